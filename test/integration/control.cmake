# --- the control domain (issue 7): the real control protocol on COM2 -----------
# control_test.py starts the machine with `hvctl up` (the default hv.iso: the
# hypervisor and the control domain, nothing else), drives it with the hvctl
# binary and control_driver (libhvctl), and stops it with `hvctl down`.
# Host test of the control domain's tokens, log and image uploads (the same
# sources; control_fakegk/ stands in for the guest-kit calls they make).
set(CONTROL_SRC ${PROJECT_SOURCE_DIR}/domains/control)
hv_unit_test(control_host_test SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/control_host_test.c
    ${CONTROL_SRC}/tokens.c ${CONTROL_SRC}/log.c ${CONTROL_SRC}/images.c
    ${CONTROL_SRC}/drvcfg.c ${CONTROL_SRC}/restart.c
    INCLUDES ${CMAKE_CURRENT_SOURCE_DIR}/control_fakegk LIBS proto_host LABELS control)

if(HV_WITH_TOOLS)
  add_executable(control_driver ${CMAKE_CURRENT_SOURCE_DIR}/control_driver.c)
  target_compile_options(control_driver PRIVATE ${HV_WARNINGS})
  target_link_libraries(control_driver PRIVATE libhvctl)

  # A guest that echoes its console input (console input tests).
  add_guest(control_echo SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/control_echo.c)
  # A guest that starts all its VCPUs and keeps them sleeping and waking
  # (multi-VCPU domains built by the control domain).
  add_guest(control_spin2 SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/control_spin2.c)

  set(CONTROL_TEST ${HV_REAP} ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/control_test.py
      --hvctl $<TARGET_FILE:hvctl> --driver $<TARGET_FILE:control_driver>
      --iso ${CMAKE_BINARY_DIR}/hv.iso --hello $<TARGET_FILE:hello>
      --ticks $<TARGET_FILE:ticks> --fault $<TARGET_FILE:test_fault>
      --echo $<TARGET_FILE:control_echo>
      --spin2 $<TARGET_FILE:control_spin2> --counter2 $<TARGET_FILE:counter2>
      --driver-guest $<TARGET_FILE:test_iommu_driver>
      --mkiso ${PROJECT_SOURCE_DIR}/scripts/mkiso.sh
      --hv $<TARGET_FILE:hv.elf> --control $<TARGET_FILE:control>
      --workdir ${HV_TEST_LOGDIR})
  # TIMEOUT only catches a hang: every wait inside ends when what it waits
  # for happens (control_test.WAIT), however busy the host.
  foreach(t up_list create_console garbage tokens lifecycle policy console_input cycles bootcfg
          up_hello make_run sched shutdown vcpus devices min_mem)
    add_test(NAME control_${t} COMMAND ${CONTROL_TEST} ${t})
    set_tests_properties(control_${t} PROPERTIES LABELS "integration;control"
        PASS_REGULAR_EXPRESSION "control_test: ${t}: passed" TIMEOUT 600)
  endforeach()
endif()
