# ctest driver: runs killed_rank_main under mpirun (MPIEXEC, NP, PROGRAM) and passes when the
# job fails because a rank was killed, within LIMIT seconds, rather than hanging.
string(TIMESTAMP start "%s")
execute_process(
  COMMAND "${MPIEXEC}" -n ${NP} --oversubscribe --timeout 60 "${PROGRAM}"
  RESULT_VARIABLE rc
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err
  TIMEOUT 90)
string(TIMESTAMP end "%s")
math(EXPR elapsed "${end} - ${start}")
message("${out}${err}")
message("mpirun exit: ${rc}, after ${elapsed} s")
if(rc EQUAL 0)
  message(FATAL_ERROR "the job succeeded although host 1 was killed")
endif()
if(NOT "${out}${err}" MATCHES "host 1: killing myself")
  message(FATAL_ERROR "host 1 never reached its kill point")
endif()
if("${out}${err}" MATCHES "timeout|Timeout|TIMEOUT" OR elapsed GREATER ${LIMIT})
  message(FATAL_ERROR "the surviving hosts hung: the job ended only after ${elapsed} s")
endif()
