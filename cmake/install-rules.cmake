include(CMakePackageConfigHelpers)

set(META_MEMCACHE_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/meta_memcache"
    CACHE STRING "Where to install meta_memcache's CMake package files")

install(TARGETS meta_memcache
        EXPORT meta_memcacheTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# The header-only target in its own export set: its dependencies (asio, xxHash, ...) are
# found only for the consumers that can use it, never for those of the compiled library.
install(TARGETS meta_memcache_header_only EXPORT meta_memcacheHeaderOnlyTargets)
# The asynchronous client in its own export set too: it needs asio (a public dependency of
# meta_memcache::async only), found for the consumers that use it.
install(TARGETS meta_memcache_async
        EXPORT meta_memcacheAsyncTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT meta_memcacheTargets
        NAMESPACE meta_memcache::
        DESTINATION ${META_MEMCACHE_CMAKE_DIR})
install(EXPORT meta_memcacheHeaderOnlyTargets
        NAMESPACE meta_memcache::
        DESTINATION ${META_MEMCACHE_CMAKE_DIR})
install(EXPORT meta_memcacheAsyncTargets
        NAMESPACE meta_memcache::
        DESTINATION ${META_MEMCACHE_CMAKE_DIR})

# A static library carries its private link dependencies into the consumer's link.
get_target_property(_mm_type meta_memcache TYPE)
if(_mm_type STREQUAL "STATIC_LIBRARY")
    set(META_MEMCACHE_STATIC ON)
else()
    set(META_MEMCACHE_STATIC OFF)
endif()

# pkg-config, for builds without CMake. A static library needs its compiled dependencies
# on every link line, so they are in Libs (pkg-config --libs is enough); a shared one lists
# them in Libs.private (for pkg-config --static).
set(_mm_pc_deps -lsodium -lz -lcrypto)
if(META_MEMCACHE_WITH_TLS)
    list(APPEND _mm_pc_deps -lssl)
endif()
if(META_MEMCACHE_WITH_ZSTD)
    list(APPEND _mm_pc_deps -lzstd)
endif()
list(JOIN _mm_pc_deps " " _mm_pc_deps)
if(META_MEMCACHE_STATIC)
    set(META_MEMCACHE_PC_LIBS "${_mm_pc_deps} -pthread")
    set(META_MEMCACHE_PC_LIBS_PRIVATE "")
else()
    set(META_MEMCACHE_PC_LIBS "-pthread")
    set(META_MEMCACHE_PC_LIBS_PRIVATE "${_mm_pc_deps}")
endif()
configure_file(cmake/meta_memcache.pc.in "${PROJECT_BINARY_DIR}/meta_memcache.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/meta_memcache.pc"
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

configure_package_config_file(
    cmake/meta_memcacheConfig.cmake.in
    "${PROJECT_BINARY_DIR}/meta_memcacheConfig.cmake"
    INSTALL_DESTINATION ${META_MEMCACHE_CMAKE_DIR})
write_basic_package_version_file(
    "${PROJECT_BINARY_DIR}/meta_memcacheConfigVersion.cmake"
    COMPATIBILITY SameMajorVersion)
# The Find modules of the dependencies that ship no CMake package, for the config to find
# them again (SG-15).
install(FILES
        "${PROJECT_BINARY_DIR}/meta_memcacheConfig.cmake"
        "${PROJECT_BINARY_DIR}/meta_memcacheConfigVersion.cmake"
        cmake/Findasio.cmake
        cmake/Findsodium.cmake
        cmake/FindxxHash.cmake
        DESTINATION ${META_MEMCACHE_CMAKE_DIR})
