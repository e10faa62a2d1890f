# Finds xxHash's header (Debian: libxxhash-dev), used header-only with XXH_INLINE_ALL in
# the one source file that hashes. Provides xxHash::headers (INTERFACE IMPORTED).
find_path(xxHash_INCLUDE_DIR NAMES xxhash.h)
if(xxHash_INCLUDE_DIR)
    file(STRINGS "${xxHash_INCLUDE_DIR}/xxhash.h" _xxh_lines
         REGEX "^#define XXH_VERSION_(MAJOR|MINOR|RELEASE) +[0-9]+")
    foreach(_l IN LISTS _xxh_lines)
        if(_l MATCHES "XXH_VERSION_(MAJOR|MINOR|RELEASE) +([0-9]+)")
            set(_xxh_${CMAKE_MATCH_1} ${CMAKE_MATCH_2})
        endif()
    endforeach()
    set(xxHash_VERSION "${_xxh_MAJOR}.${_xxh_MINOR}.${_xxh_RELEASE}")
endif()
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(xxHash REQUIRED_VARS xxHash_INCLUDE_DIR VERSION_VAR xxHash_VERSION)
if(xxHash_FOUND AND NOT TARGET xxHash::headers)
    add_library(xxHash::headers INTERFACE IMPORTED)
    set_target_properties(xxHash::headers PROPERTIES
        INTERFACE_INCLUDE_DIRECTORIES "${xxHash_INCLUDE_DIR}")
endif()
mark_as_advanced(xxHash_INCLUDE_DIR)
