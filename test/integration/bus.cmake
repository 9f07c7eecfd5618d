# --- the domain bus (issue 13, docs/bus.md) -----------------------------------
# bus_test.py starts the machine with `hvctl up` (the default hv.iso), creates
# bus_guest domains from manifests with hvctl and checks what they print, what
# `hvctl bus`, `hvctl services` and `hvctl list` say, and the control domain's
# log. Label `bus`.
if(HV_WITH_TOOLS)
  add_guest(bus_guest SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bus_guest.c LIBS proto_guest)
  set(BUS_TEST ${HV_REAP} ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/bus_test.py
      --hvctl $<TARGET_FILE:hvctl> --iso ${CMAKE_BINARY_DIR}/hv.iso
      --guest $<TARGET_FILE:bus_guest> --hello $<TARGET_FILE:hello>
      --fileserver $<TARGET_FILE:fileserver> --fileclient $<TARGET_FILE:fileclient>
      --examples ${PROJECT_SOURCE_DIR}/examples/manifests
      --workdir ${HV_TEST_LOGDIR})
  foreach(t connect services channels hostile)
    add_test(NAME bus_${t} COMMAND ${BUS_TEST} ${t})
    set_tests_properties(bus_${t} PROPERTIES LABELS "integration;bus"
        PASS_REGULAR_EXPRESSION "bus_test: ${t}: passed" TIMEOUT 600)
  endforeach()
endif()
