# --- the hvctl broker (hvctl-mux): several clients on the control socket ------
# control_mux_test.py starts the machine with `hvctl up` (which starts the
# broker), runs several hvctl processes at once against it (console, log -f,
# list/create/destroy, a raw client sending garbage, clients killed
# mid-stream) and stops it with `hvctl down`. Helpers from control_test.py.
if(HV_WITH_TOOLS)
  set(CONTROL_MUX_TEST ${HV_REAP} ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/control_mux_test.py
      --hvctl $<TARGET_FILE:hvctl> --driver $<TARGET_FILE:control_driver>
      --iso ${CMAKE_BINARY_DIR}/hv.iso --hello $<TARGET_FILE:hello>
      --echo $<TARGET_FILE:control_echo> --workdir ${HV_TEST_LOGDIR})
  foreach(t concurrent garbage killed flood)
    add_test(NAME control_mux_${t} COMMAND ${CONTROL_MUX_TEST} ${t})
    set_tests_properties(control_mux_${t} PROPERTIES LABELS "integration;control"
        PASS_REGULAR_EXPRESSION "control_mux_test: ${t}: passed" TIMEOUT 600)
  endforeach()
endif()
