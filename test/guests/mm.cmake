# The adversarial memory-management test domain (issue 3, item 7); run by
# test/integration/mm.cmake, one area per test (`test=AREA`).
add_guest(test_mm_attack SOURCES mm_attack.c mm_check.c mm_pin.c mm_batch.c mm_pos.c)
