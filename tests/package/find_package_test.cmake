# Builds and installs the library into a temporary prefix, then builds and runs a consumer
# that finds it with find_package(meta_memcache CONFIG REQUIRED).
file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")
function(run)
    execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "failed (${rc}): ${ARGV}")
    endif()
endfunction()
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${WORK_DIR}/lib" -G "${GENERATOR}"
    -DCMAKE_BUILD_TYPE=Release -DMETA_MEMCACHE_BUILD_TESTS=OFF
    -DMETA_MEMCACHE_BUILD_EXAMPLES=OFF -DMETA_MEMCACHE_INSTALL=ON
    "-DCMAKE_INSTALL_PREFIX=${prefix}")
run(${CMAKE_COMMAND} --build "${WORK_DIR}/lib")
run(${CMAKE_COMMAND} --install "${WORK_DIR}/lib")
run(${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/package/find_package" -B "${WORK_DIR}/consumer"
    -G "${GENERATOR}" -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=${prefix}")
run(${CMAKE_COMMAND} --build "${WORK_DIR}/consumer")
run("${WORK_DIR}/consumer/consumer")
