#include "memcoord/loop.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace memcoord {
namespace {

TEST(LoopTest, OnceRunsExactlyOneTick) {
  Loop loop;
  int ticks = 0;
  loop.Run({[&] { ++ticks; }, nullptr, [] { return 3600.0; }}, /*once=*/true);
  EXPECT_EQ(ticks, 1);
}

TEST(LoopTest, StopEndsTheLoopAfterTheCurrentTick) {
  Loop loop;
  int ticks = 0;
  loop.Run({[&] {
              if (++ticks == 3) loop.Stop();
            },
            nullptr, [] { return 0.001; }});
  EXPECT_EQ(ticks, 3);
  EXPECT_TRUE(loop.stopping());
}

TEST(LoopTest, StopFromAnotherThreadWakesALongWait) {
  Loop loop;
  int ticks = 0;
  std::thread stopper;
  loop.Run({[&] {
              ++ticks;
              stopper = std::thread([&] { loop.Stop(); });
            },
            nullptr, [] { return 3600.0; }});
  stopper.join();
  EXPECT_EQ(ticks, 1);  // returned long before the hour was up
}

TEST(LoopTest, ReloadRunsOnTheLoopThreadBetweenTicks) {
  Loop loop;
  std::vector<std::string> events;
  const std::thread::id loop_thread = std::this_thread::get_id();
  std::thread::id reload_thread;
  std::thread requester;
  loop.Run({[&] {
              events.push_back("tick");
              if (events.size() == 1) {
                requester = std::thread([&] { loop.Reload(); });
                requester.join();
              }
              if (events.size() >= 4) loop.Stop();
            },
            [&] {
              events.push_back("reload");
              reload_thread = std::this_thread::get_id();
            },
            [] { return 0.001; }});
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events[0], "tick");
  EXPECT_EQ(events[1], "reload");
  EXPECT_EQ(events[2], "tick");
  EXPECT_EQ(reload_thread, loop_thread);
}

}  // namespace
}  // namespace memcoord
