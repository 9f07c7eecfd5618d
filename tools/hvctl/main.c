/* hvctl: the command users run (docs/hvctl.md). Everything is in cli.c. */
#include <stdio.h>

#include "cli.h"

int main(int argc, char **argv)
{
    return hvctl_cli_main(argc, argv, stdout, stderr);
}
