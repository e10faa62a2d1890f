#pragma once

// mmc's subcommands. Each returns an exit code (cli.hpp) and throws UsageError for bad
// arguments and meta_memcache::Error for failures.

#include "cli.hpp"

namespace mmc {

int get_command(const Args& args);
int set_command(const Args& args);
int del_command(const Args& args);
int touch_command(const Args& args);
int incr_command(const Args& args);
int where_command(const Args& args);
int stats_command(const Args& args);
int warm_command(const Args& args);
int drain_command(const Args& args);
int dump_command(const Args& args);
int flush_command(const Args& args);

}  // namespace mmc
