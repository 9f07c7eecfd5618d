# proto_fuzz_target(NAME SOURCES src... [INCLUDES dir...] [LIBS -lx...] [RUNS n])
#   Builds test/fuzz/NAME/NAME.c with clang and libFuzzer, ASan and UBSan
#   (the main build uses gcc, so this is a custom command), and registers a
#   bounded ctest run (label proto;fuzz) over the seed corpus kept in
#   test/fuzz/NAME/corpus. New inputs go to a scratch corpus in the build
#   tree, never into the source tree. `make fuzz` (scripts/fuzz.sh) runs the
#   same binaries for longer.
include_guard(GLOBAL)
find_program(PROTO_FUZZ_CLANG NAMES clang-14 clang)

function(proto_fuzz_target name)
  cmake_parse_arguments(F "" "RUNS" "SOURCES;LIBS;INCLUDES" ${ARGN})
  if(NOT PROTO_FUZZ_CLANG)
    message(WARNING "clang not found: fuzz target ${name} not built")
    return()
  endif()
  if(NOT F_RUNS)
    set(F_RUNS 20000)
  endif()
  set(src ${PROJECT_SOURCE_DIR}/test/fuzz/${name}/${name}.c)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${name}_fuzzer)
  set(incs)
  foreach(i ${F_INCLUDES})
    list(APPEND incs -I${i})
  endforeach()
  add_custom_command(OUTPUT ${out}
      COMMAND ${PROTO_FUZZ_CLANG} -std=c11 -g -O1 -Wall -Wextra -Werror
              -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
              -I${PROJECT_SOURCE_DIR}/proto/include -I${PROTO_GEN_DIR} ${incs}
              ${src} ${F_SOURCES} ${F_LIBS} -o ${out}
      DEPENDS ${src} ${F_SOURCES} proto_gen
      COMMENT "fuzz: building ${name}_fuzzer with clang"
      VERBATIM)
  add_custom_target(fuzz_${name} ALL DEPENDS ${out})
  set(scratch ${CMAKE_CURRENT_BINARY_DIR}/corpus)
  file(MAKE_DIRECTORY ${scratch})
  add_test(NAME proto_fuzz_${name}
      COMMAND ${out} -seed=1 -runs=${F_RUNS} -max_total_time=5 -timeout=5 -rss_limit_mb=1024
              -artifact_prefix=${CMAKE_CURRENT_BINARY_DIR}/
              ${scratch} ${PROJECT_SOURCE_DIR}/test/fuzz/${name}/corpus)
  set_tests_properties(proto_fuzz_${name} PROPERTIES LABELS "proto;fuzz" TIMEOUT 60)
endfunction()
