#include <meta_memcache/error.hpp>
#include <meta_memcache/hash_ring.hpp>

#include "catch.hpp"

using meta_memcache::HashMode;
using meta_memcache::HashRing;

TEST_CASE("uhashring placement matches meta-memcache-py's vectors", "[ring]") {
    HashRing ring({"1.1.1.1:11211", "2.2.2.2:11211", "3.3.3.3:11211"}, HashMode::uhashring);
    CHECK(ring.nodes()[ring.node_for("foo")] == "2.2.2.2:11211");
    CHECK(ring.nodes()[ring.node_for("bar")] == "1.1.1.1:11211");
    // A routing key routes: Key("bar", routing_key="foo") goes where "foo" goes.
    CHECK(ring.nodes()[ring.node_for("foo")] == "2.2.2.2:11211");
    HashRing reordered({"3.3.3.3:11211", "1.1.1.1:11211", "2.2.2.2:11211"});
    CHECK(reordered.nodes()[reordered.node_for("foo")] == "2.2.2.2:11211");
    CHECK(reordered.nodes()[reordered.node_for("bar")] == "1.1.1.1:11211");
}

TEST_CASE("uhashring placement for other upstream and derived vectors", "[ring]") {
    HashRing ok({"ok1:11211", "ko2:11211", "ok3:11211"});
    CHECK(ok.nodes()[ok.node_for("foo")] == "ko2:11211");
    CHECK(ok.nodes()[ok.node_for("bar")] == "ok1:11211");
    HashRing ids({"1", "2"});
    CHECK(ids.nodes()[ids.node_for("foo")] == "1");
    HashRing four({"10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211", "10.0.0.4:11211"});
    auto at = [&](std::string_view k) { return four.nodes()[four.node_for(k)]; };
    CHECK(at("user:1") == "10.0.0.4:11211");
    CHECK(at("user:2") == "10.0.0.3:11211");
    CHECK(at("user:3") == "10.0.0.1:11211");
    CHECK(at("a") == "10.0.0.4:11211");
    CHECK(at("b") == "10.0.0.3:11211");
    CHECK(at("c") == "10.0.0.4:11211");
    CHECK(at("\xC3\xBAn\xC3\xAD\xC3\xA7od\xE2\x8D\xB7") == "10.0.0.2:11211");
}

TEST_CASE("a ring needs servers and no duplicates", "[ring]") {
    CHECK_THROWS_AS(HashRing({}), meta_memcache::InvalidInputError);
    CHECK_THROWS_WITH(HashRing({"a:1", "a:1"}), Catch::Contains("listed twice"));
}
