# Helpers for registering tests with ctest.
#
# hv_unit_test(NAME SOURCES src... [LABELS l...] [LIBS lib...] [INCLUDES dir...])
#   A cmocka test on the host, compiled with ASan and UBSan from the same
#   source files that go into the hypervisor or a domain. Always has the
#   label `unit`, and fails after 120 s (a hang must not stall the suite).

pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)

# HV_REAP CMD...: runs a test so that nothing it starts outlives it (QEMU,
# the hvctl broker and other daemons are stopped when the test ends or is
# killed; scripts/reap.py). Every test that starts a daemon runs under it.
set(HV_REAP ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/scripts/reap.py)

set(HV_SANITIZE -fsanitize=address,undefined -fno-sanitize-recover=all
    -fno-omit-frame-pointer)

# HV_HOST_PANIC: the hypervisor's panic() for host tests of its sources (BUG_ON
# and panic report through cmocka's mock_assert; test/unit/hv_panic.c).
set(HV_HOST_PANIC ${PROJECT_SOURCE_DIR}/test/unit/hv_panic.c)

function(hv_unit_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LABELS;LIBS;INCLUDES;DEFINES" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_compile_options(${name} PRIVATE ${HV_WARNINGS} ${HV_SANITIZE} -g)
  target_compile_definitions(${name} PRIVATE HV_HOST_TEST=1 ${T_DEFINES})
  target_link_options(${name} PRIVATE ${HV_SANITIZE})
  target_include_directories(${name} PRIVATE ${T_INCLUDES}
      ${PROJECT_SOURCE_DIR}/proto/include ${HV_LIB_INCLUDE})
  target_link_libraries(${name} PRIVATE PkgConfig::CMOCKA ${T_LIBS})
  add_test(NAME ${name} COMMAND ${name})
  # A unit test runs in seconds; a hang fails it instead of stalling CI.
  set_tests_properties(${name} PROPERTIES LABELS "unit;${T_LABELS}" TIMEOUT 120
      ENVIRONMENT "CMOCKA_MESSAGE_OUTPUT=STDOUT;UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
endfunction()
