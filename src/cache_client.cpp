#include <meta_memcache/cache_client.hpp>
#include <meta_memcache/error.hpp>

namespace meta_memcache {

struct CacheClient::State {
    std::shared_ptr<Router> router;
    ClientOptions options;
    WriteFailureEvent on_write_failure;

    [[nodiscard]] ExecContext context(const FailureHandling& fh) const {
        ExecContext ctx;
        ctx.track_write_failures = fh.track_write_failures;
        ctx.on_write_failure = &on_write_failure;
        ctx.key_prefix = options.key_prefix;
        ctx.max_item_size = options.max_item_size;
        return ctx;
    }

    [[nodiscard]] bool raise(const FailureHandling& fh) const {
        if (fh.raise_on_server_error)
            return *fh.raise_on_server_error;
        if (options.raise_on_server_error)
            return *options.raise_on_server_error;
        return router->default_raise_on_server_error();
    }

    /// Throws the failure a response stands for, when the call raises.
    void check(const Response& r, const FailureHandling& fh) const {
        if (!raise(fh))
            return;
        if (const auto* m = std::get_if<Miss>(&r); m != nullptr && m->error) {
            std::rethrow_exception(m->error);
        }
        if (const auto* n = std::get_if<NotStored>(&r); n != nullptr && n->error) {
            std::rethrow_exception(n->error);
        }
    }

    Response exec1(const Request& req, const FailureHandling& fh) {
        Response out;
        router->execute(std::span<const Request>(&req, 1), std::span<Response>(&out, 1),
                        context(fh));
        check(out, fh);
        return out;
    }
};

namespace {

[[noreturn]] void unexpected(std::string_view command) {
    throw ProtocolError("unexpected answer type to " + std::string(command), {});
}

WriteResponse to_write(Response&& r, std::string_view command) {
    return std::visit(
        [&](auto&& v) -> WriteResponse {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, Value>) {
                unexpected(command);
            } else {
                return WriteResponse{std::move(v)};
            }
        },
        std::move(r));
}

ReadResponse to_read(Response&& r) {
    return std::visit(
        [](auto&& v) -> ReadResponse {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, Miss> || std::is_same_v<T, Value> ||
                          std::is_same_v<T, Success>) {
                return ReadResponse{std::move(v)};
            } else if constexpr (std::is_same_v<T, NotStored>) {
                return ReadResponse{Miss{std::move(v.error)}};
            } else {
                unexpected("mg");
            }
        },
        std::move(r));
}

Mode to_mode(SetMode m) noexcept {
    switch (m) {
        case SetMode::set:
            return Mode::set;
        case SetMode::add:
            return Mode::add;
        case SetMode::replace:
            return Mode::replace;
        case SetMode::append:
            return Mode::append;
        case SetMode::prepend:
            return Mode::prepend;
    }
    return Mode::set;
}

}  // namespace

CacheClient::CacheClient(std::shared_ptr<Router> router, ClientOptions options)
    : s_(std::make_unique<State>()) {
    if (!router)
        throw InvalidInputError("CacheClient needs a router");
    s_->router = std::move(router);
    s_->options = std::move(options);
}
CacheClient::~CacheClient() = default;
CacheClient::CacheClient(CacheClient&&) noexcept = default;
CacheClient& CacheClient::operator=(CacheClient&&) noexcept = default;

ReadResponse CacheClient::meta_get(KeyView key,
                                   const RequestFlags& flags,
                                   const FailureHandling& failure) {
    return to_read(s_->exec1(Request{MetaCommand::get, key, {}, flags}, failure));
}

std::vector<ReadResponse> CacheClient::meta_multiget(std::span<const KeyView> keys,
                                                     const RequestFlags& flags,
                                                     const FailureHandling& failure) {
    std::vector<Request> reqs;
    reqs.reserve(keys.size());
    for (const KeyView& k : keys)
        reqs.push_back(Request{MetaCommand::get, k, {}, flags});
    std::vector<Response> out(keys.size());
    s_->router->execute(reqs, out, s_->context(failure));
    std::vector<ReadResponse> result;
    result.reserve(out.size());
    for (auto& r : out) {
        s_->check(r, failure);
        result.push_back(to_read(std::move(r)));
    }
    return result;
}

WriteResponse CacheClient::meta_set(KeyView key,
                                    std::string_view value,
                                    std::int64_t ttl,
                                    const RequestFlags& flags,
                                    const FailureHandling& failure) {
    RequestFlags f = flags;
    f.cache_ttl = ttl;
    return to_write(s_->exec1(Request{MetaCommand::set, key, value, f}, failure), "ms");
}

WriteResponse CacheClient::meta_delete(KeyView key,
                                       const RequestFlags& flags,
                                       const FailureHandling& failure) {
    return to_write(s_->exec1(Request{MetaCommand::del, key, {}, flags}, failure), "md");
}

ArithmeticResponse CacheClient::meta_arithmetic(KeyView key,
                                                const RequestFlags& flags,
                                                const FailureHandling& failure) {
    Response r = s_->exec1(Request{MetaCommand::arithmetic, key, {}, flags}, failure);
    return std::visit(
        [](auto&& v) -> ArithmeticResponse { return ArithmeticResponse{std::move(v)}; },
        std::move(r));
}

bool CacheClient::set(KeyView key,
                      std::string_view value,
                      std::int64_t ttl,
                      const SetOptions& options) {
    RequestFlags f;
    f.no_reply = options.no_reply;
    f.client_flag = 16;  // bytes, in meta-memcache-py's layout
    f.cas_token = options.cas_token;
    if (options.cas_token && options.stale_policy &&
        options.stale_policy->mark_stale_on_cas_mismatch) {
        f.mark_stale = true;
    }
    if (options.mode != SetMode::set)
        f.mode = to_mode(options.mode);
    const WriteResponse r = meta_set(key, value, ttl, f);
    return std::holds_alternative<Success>(r);
}

std::optional<std::string> CacheClient::get(KeyView key) {
    RequestFlags f;
    f.return_client_flag = true;
    f.return_value = true;
    f.return_ttl = true;
    f.return_last_access = true;
    f.return_fetched = true;
    ReadResponse r = meta_get(key, f);
    if (auto* v = std::get_if<Value>(&r)) {
        return std::move(v->data);
    }
    return std::nullopt;
}

bool CacheClient::del(KeyView key) {
    return std::holds_alternative<Success>(meta_delete(key));
}

WriteFailureEvent& CacheClient::on_write_failure() noexcept {
    return s_->on_write_failure;
}

std::vector<ServerCounters> CacheClient::get_counters() const {
    return s_->router->get_counters();
}

Router& CacheClient::router() noexcept {
    return *s_->router;
}

CacheClient cache_client_from_servers(const std::vector<ServerAddress>& servers,
                                      PoolOptions pool_options,
                                      ClientOptions client_options,
                                      HashMode mode) {
    return CacheClient(std::make_shared<ShardedRouter>(servers, std::move(pool_options), mode),
                       std::move(client_options));
}

}  // namespace meta_memcache
