#pragma once

// The parser behind parse_cluster_config, for AutoDiscoveryRouter (errors name the endpoint).

#include <meta_memcache/auto_discovery_router.hpp>

#include <string>
#include <string_view>

namespace meta_memcache::detail {

/// parse_cluster_config, with errors naming `server`.
[[nodiscard]] ClusterConfig parse_cluster_answer(std::string_view answer,
                                                 const std::string& server);

/// `text`, quoted and cut for an error message.
[[nodiscard]] std::string quoted_excerpt(std::string_view text);

}  // namespace meta_memcache::detail
