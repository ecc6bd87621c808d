#include "ring_window.h"

#include <gtest/gtest.h>

#include <vector>

namespace memcoord {
namespace {

std::vector<int> Contents(const RingWindow<int, 3>& w) {
  std::vector<int> out;
  for (int v : w) out.push_back(v);
  return out;
}

TEST(RingWindowTest, KeepsTheLastNOldestFirst) {
  RingWindow<int, 3> w;
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(Contents(w), std::vector<int>{});
  w.push_back(1);
  w.push_back(2);
  EXPECT_EQ(w.size(), 2u);
  EXPECT_EQ(Contents(w), (std::vector<int>{1, 2}));
  w.push_back(3);
  w.push_back(4);  // drops 1
  EXPECT_EQ(w.size(), 3u);
  EXPECT_EQ(Contents(w), (std::vector<int>{2, 3, 4}));
  EXPECT_EQ(w[0], 2);
  EXPECT_EQ(w[2], 4);
  EXPECT_EQ(w.back(), 4);
  for (int v = 5; v <= 11; ++v) w.push_back(v);  // wraps around twice more
  EXPECT_EQ(Contents(w), (std::vector<int>{9, 10, 11}));
  EXPECT_EQ(w.back(), 11);
}

TEST(RingWindowTest, ClearStartsAfresh) {
  RingWindow<int, 3> w;
  for (int v = 1; v <= 5; ++v) w.push_back(v);
  w.clear();
  EXPECT_TRUE(w.empty());
  w.push_back(7);
  EXPECT_EQ(Contents(w), std::vector<int>{7});
  EXPECT_EQ(w.back(), 7);
}

}  // namespace
}  // namespace memcoord
