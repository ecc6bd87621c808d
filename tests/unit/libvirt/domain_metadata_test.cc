#include "domain_metadata.h"

#include <gtest/gtest.h>

namespace memcoord {
namespace {

TEST(LibvirtHypervisorTest, ParsesAllSettingsWithPrefixAndNamespace) {
  Result<DomainSettings> s = ParseDomainSettingsXml(
      "<memcoord:settings "
      "xmlns:memcoord=\"https://memcoord.dev/xmlns/domain/1\""
      " min_mib=\"2048\" max_mib=\"8192\" shares=\"2000\" managed=\"true\"/>");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->min_mib, 2048);
  EXPECT_EQ(s->max_mib, 8192);
  EXPECT_EQ(s->shares, 2000);
  EXPECT_EQ(s->managed, true);
}

TEST(LibvirtHypervisorTest, ParsesWhatVirshStores) {
  // The form libvirt hands back for an element set with virsh metadata.
  Result<DomainSettings> s = ParseDomainSettingsXml(
      "<settings xmlns=\"https://memcoord.dev/xmlns/domain/1\" min_mib=\"512\" "
      "shares=\"2000\"/>\n");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->min_mib, 512);
  EXPECT_EQ(s->shares, 2000);
  EXPECT_FALSE(s->max_mib.has_value());
  EXPECT_FALSE(s->managed.has_value());
}

TEST(LibvirtHypervisorTest, MetadataParserIsTolerantOfLayout) {
  Result<DomainSettings> s = ParseDomainSettingsXml(
      "<?xml version=\"1.0\"?>\n<!-- set by ops -->\n"
      "  <m:settings\n\tmanaged = 'false'\n  max_mib=' 4096 '"
      "  memcoord:shares=\"0\"></m:settings>");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->managed, false);
  EXPECT_EQ(s->max_mib, 4096);
  EXPECT_EQ(s->shares, 0);
  EXPECT_FALSE(s->min_mib.has_value());
}

TEST(LibvirtHypervisorTest, EmptySettingsElementSaysNothing) {
  Result<DomainSettings> s = ParseDomainSettingsXml("<settings/>");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->empty());
}

TEST(LibvirtHypervisorTest, ManagedAcceptsCommonSpellings) {
  for (const char* yes : {"true", "TRUE", "yes", "1", " True "}) {
    Result<DomainSettings> s = ParseDomainSettingsXml(
        std::string("<settings managed=\"") + yes + "\"/>");
    ASSERT_TRUE(s.ok()) << yes;
    EXPECT_EQ(s->managed, true) << yes;
  }
  for (const char* no : {"false", "No", "0"}) {
    Result<DomainSettings> s = ParseDomainSettingsXml(
        std::string("<settings managed=\"") + no + "\"/>");
    ASSERT_TRUE(s.ok()) << no;
    EXPECT_EQ(s->managed, false) << no;
  }
}

TEST(LibvirtHypervisorTest, DecodesEntitiesInValues) {
  Result<DomainSettings> s =
      ParseDomainSettingsXml("<settings managed=\"&#116;rue\"/>");
  EXPECT_FALSE(s.ok());  // numeric references are not decoded
  s = ParseDomainSettingsXml("<settings min_mib=\"&quot;1&quot;\"/>");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("\"1\""), std::string::npos)
      << s.status().message();
}

TEST(LibvirtHypervisorTest, BadMetadataIsRejectedNamingTheProblem) {
  struct Case {
    const char* xml;
    const char* word;
  };
  const Case cases[] = {
      {"", "no element"},
      {"just text", "no element"},
      {"<limits min_mib=\"1\"/>", "<limits>"},
      {"<settings min_mib=\"-1\"/>", "min_mib"},
      {"<settings min_mib=\"12abc\"/>", "min_mib"},
      {"<settings max_mib=\"\"/>", "max_mib"},
      {"<settings max_mib=\"99999999999999999999\"/>", "max_mib"},
      {"<settings shares=\"1.5\"/>", "shares"},
      {"<settings managed=\"maybe\"/>", "managed"},
      {"<settings min_mb=\"512\"/>", "min_mb"},
      {"<settings min_mib=\"4096\" max_mib=\"1024\"/>", "above max_mib"},
      {"<settings min_mib=512/>", "min_mib"},
      {"<settings min_mib", "min_mib"},
      {"<settings min_mib=\"1\"", "unterminated"},
      {"<settings min_mib=\"1", "min_mib"},
      {"<settings min_mib=\"1\"max_mib=\"2\"/>", "separated"},
      {"<!-- never closed", "comment"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.xml);
    Result<DomainSettings> s = ParseDomainSettingsXml(c.xml);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(s.status().message().find(c.word), std::string::npos)
        << s.status().message();
  }
}

}  // namespace
}  // namespace memcoord
