# Warnings for our own targets only; linked privately so consumers never inherit them.
add_library(meta_memcache_warnings INTERFACE)
if(MSVC)
    target_compile_options(meta_memcache_warnings INTERFACE /W4 /permissive-
                           $<$<BOOL:${META_MEMCACHE_WERROR}>:/WX>)
else()
    target_compile_options(meta_memcache_warnings INTERFACE
        -Wall -Wextra -Wpedantic -Wconversion -Wsign-conversion -Wshadow -Wold-style-cast
        -Wnon-virtual-dtor -Woverloaded-virtual
        $<$<BOOL:${META_MEMCACHE_WERROR}>:-Werror>)
endif()
