// MigratingCacheClient: a CacheClient over a MigrationRouter.

#include <meta_memcache/config.hpp>
#include <meta_memcache/migrating_cache_client.hpp>

#include <memory>
#include <utility>

namespace meta_memcache {

META_MEMCACHE_DECL MigratingCacheClient::MigratingCacheClient(std::shared_ptr<Router> origin,
                                                              std::shared_ptr<Router> destination,
                                                              MigrationSchedule schedule,
                                                              ClientOptions client_options,
                                                              MigrationOptions migration_options)
    : CacheClient(std::make_shared<MigrationRouter>(std::move(origin),
                                                    std::move(destination),
                                                    std::move(schedule),
                                                    std::move(migration_options)),
                  std::move(client_options)) {}

META_MEMCACHE_DECL MigrationMode MigratingCacheClient::current_mode() const {
    return dynamic_cast<const MigrationRouter&>(router()).current_mode();
}

}  // namespace meta_memcache
