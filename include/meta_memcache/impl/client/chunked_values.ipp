#pragma once

// Values larger than one item (ClientOptions::large_values): writing one as its chunks and
// index, and joining the chunks a read's index names.

#include <meta_memcache/config.hpp>
#include <meta_memcache/impl/client/client_state.hpp>

namespace meta_memcache {

namespace detail::cache_client_impl {

[[noreturn]] inline void reject_chunked_append() {
    throw InvalidInputError(
        "append and prepend cannot apply to a value split into chunks (large_values): set the "
        "whole value instead");
}

}  // namespace detail::cache_client_impl

META_MEMCACHE_DECL std::optional<std::uint64_t> CacheClient::State::cas_if_unsplit(
    KeyView key, const FailureHandling& failure) {
    RequestFlags rf;
    rf.return_client_flag = true;
    rf.return_cas_token = true;
    // First without the value; only a key flagged as chunked is read again with it, to tell
    // an index (by its content) from another client's value that uses bit 4096.
    for (const bool with_value : {false, true}) {
        rf.return_value = with_value;
        Response r = exec1(Request{MetaCommand::get, key, {}, rf}, failure);
        const ResponseFlags* flags = nullptr;
        if (const auto* hd = std::get_if<Success>(&r)) {
            flags = &hd->flags;
        } else if (const auto* va = std::get_if<Value>(&r)) {
            flags = &va->flags;
            if (!detail::parse_chunk_index(va->data))
                return flags->cas_token;
        }
        if (flags == nullptr)
            return std::nullopt;  // a miss (or a failure not raised): nothing to add to
        if ((flags->client_flag.value_or(0) & detail::chunked_flag) == 0)
            return flags->cas_token;
    }
    detail::cache_client_impl::reject_chunked_append();
}

META_MEMCACHE_DECL std::optional<std::uint64_t> CacheClient::State::set_large(
    KeyView key,
    std::string_view value,
    std::int64_t ttl,
    RequestFlags index_flags,
    const FailureHandling& failure,
    bool& stored) {
    stored = false;
    // The value is compressed already; its size was checked against max_value_size before.
    if (index_flags.mode &&
        (*index_flags.mode == Mode::append || *index_flags.mode == Mode::prepend)) {
        detail::cache_client_impl::reject_chunked_append();
    }
    const std::size_t chunk = chunk_size();
    detail::ChunkIndex idx;
    idx.version = detail::new_chunk_version();
    idx.count = static_cast<std::uint32_t>((value.size() + chunk - 1) / chunk);
    idx.size = value.size();
    idx.checksum = detail::value_checksum(value);
    idx.chunk_size = chunk;

    // Chunks outlive their index by a minute so a reader never finds the index alive and
    // a chunk expired; they are unreachable without it, so their failures are not tracked.
    RequestFlags cf;
    cf.client_flag = 0;
    if (ttl != 0)
        cf.cache_ttl = std::min<std::int64_t>(ttl + 60, detail::max_ttl);
    else
        cf.cache_ttl = 0;
    std::vector<std::string> keys(idx.count);
    std::vector<Request> reqs(idx.count);
    for (std::uint32_t i = 0; i < idx.count; ++i) {
        keys[i] = detail::chunk_key(key.key, idx.version, i);
    }
    for (std::uint32_t i = 0; i < idx.count; ++i) {
        reqs[i] = Request{MetaCommand::set, KeyView(keys[i], key.route(), key.domain),
                          value.substr(static_cast<std::size_t>(i) * chunk, chunk), cf};
    }
    std::vector<Response> out(idx.count);
    FailureHandling untracked = failure;
    untracked.track_write_failures = false;
    front().execute(reqs, out, context(untracked));
    for (const Response& r : out) {
        check(r, failure);
        if (!std::holds_alternative<Success>(r))
            return std::nullopt;
    }
    index_flags.client_flag = index_flags.client_flag.value_or(0) | detail::chunked_flag;
    index_flags.cache_ttl = ttl;
    const std::string index = detail::encode_chunk_index(idx);
    Response r = exec1(Request{MetaCommand::set, key, index, index_flags}, failure);
    if (const auto* ok = std::get_if<Success>(&r)) {
        stored = true;
        return ok->flags.cas_token;
    }
    return std::nullopt;
}

META_MEMCACHE_DECL void CacheClient::State::resolve_chunks(std::span<const KeyView> keys,
                                                           std::span<Fetched> items,
                                                           std::optional<std::int64_t> touch_ttl,
                                                           const FailureHandling& failure) {
    struct Job {
        std::size_t item;
        detail::ChunkIndex index;
        std::size_t first;
    };
    std::vector<Job> jobs;
    std::vector<std::string> ckeys;
    for (std::size_t i = 0; i < items.size(); ++i) {
        Fetched& f = items[i];
        if (!f.cv.value || (f.client_flag & detail::chunked_flag) == 0)
            continue;
        auto idx = detail::parse_chunk_index(*f.cv.value);
        if (!idx)
            continue;  // bit 4096 on bytes that are no index (another client's): a value
        f.client_flag &= ~detail::chunked_flag;
        f.cv.value.reset();
        jobs.push_back(Job{i, std::move(*idx), ckeys.size()});
        for (std::uint32_t c = 0; c < jobs.back().index.count; ++c) {
            ckeys.push_back(detail::chunk_key(keys[i].key, jobs.back().index.version, c));
        }
    }
    if (jobs.empty())
        return;
    RequestFlags rf;
    rf.return_value = true;
    if (touch_ttl && *touch_ttl > 0)
        rf.cache_ttl = std::min<std::int64_t>(*touch_ttl + 60, detail::max_ttl);
    std::vector<Request> reqs;
    reqs.reserve(ckeys.size());
    for (const Job& j : jobs) {
        for (std::uint32_t c = 0; c < j.index.count; ++c) {
            reqs.push_back(
                Request{MetaCommand::get,
                        KeyView(ckeys[j.first + c], keys[j.item].route(), keys[j.item].domain),
                        {},
                        rf});
        }
    }
    std::vector<Response> out(reqs.size());
    FailureHandling untracked = failure;
    untracked.track_write_failures = false;
    front().execute(reqs, out, context(untracked));
    for (const Job& j : jobs) {
        std::string whole;
        whole.reserve(static_cast<std::size_t>(j.index.size));
        bool complete = true;
        for (std::uint32_t c = 0; c < j.index.count && complete; ++c) {
            const Response& r = out[j.first + c];
            check(r, failure);
            const auto* v = std::get_if<Value>(&r);
            complete = v != nullptr;
            if (complete)
                whole += v->data;
        }
        if (complete && whole.size() == j.index.size &&
            detail::value_checksum(whole) == j.index.checksum) {
            items[j.item].cv.value = std::move(whole);
        }
    }
}

}  // namespace meta_memcache
