# The package tests, run with cmake -P. MODE says which:
#   install          builds the library (in WORK_DIR), installs it into PREFIX_DIR and
#                    checks the exported link interface of meta_memcache::meta_memcache
#   find_package     builds tests/package/find_package against that prefix and runs it
#   add_subdirectory builds tests/package/add_subdirectory (the source tree as a
#                    subdirectory) and runs it
#   pkg_config       compiles and links tests/package/consumer.cpp against that prefix with
#                    `c++ consumer.cpp $(pkg-config --cflags --libs meta_memcache)` alone,
#                    and runs it
# CONSUMER_TARGET is the target the consumer links: meta_memcache (default) or header_only. A
# header-only consumer must link nothing of ours: the test fails when its link line names
# libmeta_memcache, or when the library was built at all. With
# MEMCACHED (the server's path) the consumer also talks to a memcached started here, on a
# unix socket.
if(NOT CONSUMER_TARGET)
    set(CONSUMER_TARGET meta_memcache)
endif()
set(prefix "${PREFIX_DIR}")
function(run)
    execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "failed (${rc}): ${ARGV}")
    endif()
endfunction()

if(MODE STREQUAL "install")
    file(REMOVE_RECURSE "${WORK_DIR}" "${prefix}")
    run(${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${WORK_DIR}" -G "${GENERATOR}"
        -DCMAKE_BUILD_TYPE=Release -DMETA_MEMCACHE_BUILD_TESTS=OFF
        -DMETA_MEMCACHE_BUILD_EXAMPLES=OFF -DMETA_MEMCACHE_INSTALL=ON
        "-DCMAKE_INSTALL_PREFIX=${prefix}")
    run(${CMAKE_COMMAND} --build "${WORK_DIR}")
    run(${CMAKE_COMMAND} --install "${WORK_DIR}")
    # The compiled library's link interface names only what its consumers link: Threads,
    # and for a static library its compiled dependencies; never a header-only one, nor fmt.
    file(GLOB targets_file "${prefix}/lib*/cmake/meta_memcache/meta_memcacheTargets.cmake")
    file(STRINGS "${targets_file}" interface REGEX "INTERFACE_LINK_LIBRARIES")
    if(NOT interface MATCHES "Threads::Threads" OR interface MATCHES "fmt::|asio::|xxHash::")
        message(FATAL_ERROR "meta_memcache::meta_memcache's link interface: ${interface}")
    endif()
    return()
endif()

file(REMOVE_RECURSE "${WORK_DIR}")
if(MODE STREQUAL "pkg_config")
    file(GLOB pc_dir "${prefix}/lib*/pkgconfig" "${prefix}/lib/*/pkgconfig")
    if(NOT pc_dir)
        message(FATAL_ERROR "no meta_memcache.pc installed under ${prefix}")
    endif()
    set(ENV{PKG_CONFIG_PATH} "${pc_dir}")
    execute_process(COMMAND pkg-config --cflags --libs meta_memcache
                    OUTPUT_VARIABLE pc_flags OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "pkg-config --cflags --libs meta_memcache failed (${rc})")
    endif()
    separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
    set(cxx "$ENV{CXX}")
    if(NOT cxx)
        set(cxx c++)
    endif()
    file(MAKE_DIRECTORY "${WORK_DIR}")
    run(${cxx} "${SOURCE_DIR}/tests/package/consumer.cpp" ${pc_flags} -o "${WORK_DIR}/consumer")
else()
    set(options -DCMAKE_BUILD_TYPE=Release "-DMETA_MEMCACHE_CONSUMER_TARGET=${CONSUMER_TARGET}")
    if(MODE STREQUAL "find_package")
        list(APPEND options "-DCMAKE_PREFIX_PATH=${prefix}")
    elseif(MODE STREQUAL "add_subdirectory")
        list(APPEND options "-DMETA_MEMCACHE_SOURCE_DIR=${SOURCE_DIR}")
    else()
        message(FATAL_ERROR "MODE must be install, find_package, add_subdirectory or pkg_config")
    endif()
    run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/package/${MODE}" -B "${WORK_DIR}"
        -G "${GENERATOR}" ${options})
    run(${CMAKE_COMMAND} --build "${WORK_DIR}" --target consumer)
    if(NOT CONSUMER_TARGET STREQUAL "header_only")
        # The asynchronous client, meta_memcache::async: builds and runs (no server needed).
        run(${CMAKE_COMMAND} --build "${WORK_DIR}" --target async_consumer)
        run("${WORK_DIR}/async_consumer")
    endif()
endif()

if(CONSUMER_TARGET STREQUAL "header_only")
    file(GLOB_RECURSE built "${WORK_DIR}/*libmeta_memcache*")
    if(built)
        message(FATAL_ERROR "the header-only consumer built the library: ${built}")
    endif()
    # The commands that built the consumer, its link line included.
    if(GENERATOR MATCHES "Ninja")
        execute_process(COMMAND ${CMAKE_COMMAND} --build "${WORK_DIR}" -- -t commands consumer
                        OUTPUT_VARIABLE commands RESULT_VARIABLE rc)
    else()
        file(READ "${WORK_DIR}/CMakeFiles/consumer.dir/link.txt" commands)
        set(rc 0)
    endif()
    if(NOT rc EQUAL 0 OR NOT commands MATCHES "consumer")
        message(FATAL_ERROR "cannot tell how the consumer was linked (${rc}): ${commands}")
    endif()
    if(commands MATCHES "libmeta_memcache")
        message(FATAL_ERROR "the header-only consumer links the library: ${commands}")
    endif()
endif()

if(NOT MEMCACHED)
    run("${WORK_DIR}/consumer")
    return()
endif()
set(socket "${WORK_DIR}/memcached.sock")
set(pidfile "${WORK_DIR}/memcached.pid")
set(as_root)
execute_process(COMMAND id -u OUTPUT_VARIABLE uid OUTPUT_STRIP_TRAILING_WHITESPACE)
if(uid STREQUAL "0")
    set(as_root -u root)
endif()
run("${MEMCACHED}" -d -s "${socket}" -a 0700 -P "${pidfile}" -U 0 -m 16 ${as_root})
foreach(i RANGE 50)  # up to 5 s for the socket to appear
    if(EXISTS "${socket}" AND EXISTS "${pidfile}")
        break()
    endif()
    execute_process(COMMAND ${CMAKE_COMMAND} -E sleep 0.1)
endforeach()
execute_process(COMMAND "${WORK_DIR}/consumer" "unix:${socket}" RESULT_VARIABLE rc)
if(EXISTS "${pidfile}")
    file(STRINGS "${pidfile}" pid LIMIT_COUNT 1)
    execute_process(COMMAND kill "${pid}")
endif()
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "the consumer failed (${rc}) against memcached at unix:${socket}")
endif()
