# The option parser and every command's --help, errors and --format (common/opts, cli/).
trail_test(opts_test SOURCES opts_test.c LIBS trail_opts LABELS unit)
trail_test(help_test SOURCES help_test.c LABELS integration)
add_dependencies(help_test trail traild)
