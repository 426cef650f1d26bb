# clusterd_module(NAME SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
#   One static library per module, named clusterd_<NAME>; headers live in include/clusterd/<NAME>/.
function(clusterd_module name)
  cmake_parse_arguments(M "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(clusterd_${name} STATIC ${M_SOURCES})
  target_include_directories(clusterd_${name} PUBLIC ${PROJECT_SOURCE_DIR}/include
                                               PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_compile_options(clusterd_${name} PRIVATE ${CLUSTERD_WARNINGS})
  target_link_libraries(clusterd_${name} PUBLIC ${M_PUBLIC_DEPS} PRIVATE ${M_PRIVATE_DEPS})
endfunction()

# clusterd_test(NAME SOURCES ... LIBS ... [LABELS ...] [TIMEOUT s] [CELLS name filter ...])
#   One GoogleTest binary = one ctest entry (labels: unit, sim, interop, lab, e2e, fuzz). With
#   CELLS, one ctest entry per (name, gtest filter) pair instead, so long independent cells of
#   one binary run side by side under ctest -j.
function(clusterd_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS;CELLS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_compile_options(${name} PRIVATE ${CLUSTERD_WARNINGS})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main GTest::gmock)
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  if(CLUSTERD_SANITIZE AND "sim" IN_LIST T_LABELS)
    # The simulator runs about ten times slower under ASan/UBSan (its long studies also run
    # fewer seeds there: tests/support/sim_cluster.hpp sanitized_build()).
    math(EXPR T_TIMEOUT "${T_TIMEOUT} * 8")
  endif()
  set(entries ${name})
  if(T_CELLS)
    set(entries "")
    list(LENGTH T_CELLS n)
    math(EXPR last "${n} - 1")
    foreach(i RANGE 0 ${last} 2)
      math(EXPR j "${i} + 1")
      list(GET T_CELLS ${i} cell)
      list(GET T_CELLS ${j} filter)
      add_test(NAME ${cell} COMMAND ${name} --gtest_filter=${filter})
      list(APPEND entries ${cell})
    endforeach()
  else()
    add_test(NAME ${name} COMMAND ${name})
  endif()
  set_tests_properties(${entries} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "CLUSTERD_SOURCE_DIR=${PROJECT_SOURCE_DIR};CLUSTERD_BIN=$<TARGET_FILE:clusterd>")
endfunction()

# clusterd_fuzzer(NAME SOURCES ... LIBS ... CORPUS dir): a libFuzzer target, plus a bounded
# ctest run over its seed corpus (only when CLUSTERD_FUZZ is on): CLUSTERD_FUZZ_SECONDS of
# fuzzing (60 by default), labels `fuzz` and `fuzz_run` (scripts/test.sh runs the `fuzz_run`
# tests at nice 19 beside the release tree's wait-bound tests).
function(clusterd_fuzzer name)
  cmake_parse_arguments(F "" "CORPUS" "SOURCES;LIBS" ${ARGN})
  if(NOT CLUSTERD_FUZZ)
    return()
  endif()
  add_executable(${name} ${F_SOURCES})
  target_compile_options(${name} PRIVATE ${CLUSTERD_WARNINGS} -fsanitize=fuzzer)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(${name} PRIVATE ${F_LIBS})
  set(work ${CMAKE_CURRENT_BINARY_DIR}/${name}_corpus)
  add_test(NAME ${name}
           COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
                   sh -c "mkdir -p ${work} && exec $<TARGET_FILE:${name}> -max_total_time=${CLUSTERD_FUZZ_SECONDS} -malloc_limit_mb=64 -rss_limit_mb=2048 -timeout=10 ${work} ${F_CORPUS}")
  set_tests_properties(${name} PROPERTIES LABELS "fuzz;fuzz_run" TIMEOUT 300)
endfunction()
set(CLUSTERD_FUZZ_SECONDS 60 CACHE STRING "seconds each fuzz target runs in ctest")

# Add every module / test folder that exists, so parallel work on separate modules never
# has to touch a shared CMakeLists.
function(clusterd_add_present_subdirs)
  file(GLOB children LIST_DIRECTORIES true RELATIVE ${CMAKE_CURRENT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/*)
  list(SORT children)
  foreach(child ${children})
    if(IS_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/${child} AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${child}/CMakeLists.txt)
      add_subdirectory(${child})
    endif()
  endforeach()
endfunction()
