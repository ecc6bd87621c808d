#include "domain_xml.h"

#include <gtest/gtest.h>

#include <string>

namespace memcoord {
namespace {

// A live definition as `virsh dumpxml` prints it, with `balloon` as its
// <memballoon> element.
std::string Domain(const std::string& balloon) {
  return "<domain type='qemu' id='3'>\n"
         "  <name>vm1</name>\n"
         "  <uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>\n"
         "  <metadata>\n"
         "    <memcoord:settings xmlns:memcoord='https://memcoord.dev/xmlns/"
         "domain/1' min_mib='512'/>\n"
         "  </metadata>\n"
         "  <memory unit='KiB'>2097152</memory>\n"
         "  <devices>\n"
         "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
         "    <serial type='pty'><target port='0'/></serial>\n" +
         balloon +
         "  </devices>\n"
         "</domain>\n";
}

TEST(DomainXmlTest, ReadsUuidAndEveryBalloonSetting) {
  Result<DomainXmlFacts> f = ParseDomainXml(Domain(
      "<memballoon model='virtio' autodeflate='on' freePageReporting='on'>\n"
      "  <stats period='5'/>\n"
      "  <alias name='balloon0'/>\n"
      "  <address type='pci' domain='0x0000' bus='0x00' slot='0x04'/>\n"
      "</memballoon>\n"));
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->uuid, "4dea22b3-1d52-d8f3-2516-782e98ab3fa0");
  EXPECT_EQ(f->balloon.autodeflate, true);
  EXPECT_EQ(f->balloon.free_page_reporting, true);
  EXPECT_EQ(f->balloon.stats_period_s, 5);
}

TEST(DomainXmlTest, OffIsOff) {
  Result<DomainXmlFacts> f = ParseDomainXml(Domain(
      "<memballoon model=\"virtio\" autodeflate=\"off\" "
      "freePageReporting=\"off\"><stats period=\"1\"/></memballoon>"));
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->balloon.autodeflate, false);
  EXPECT_EQ(f->balloon.free_page_reporting, false);
  EXPECT_EQ(f->balloon.stats_period_s, 1);
}

TEST(DomainXmlTest, LeftOutAttributesAreQemuDefaultsOff) {
  // libvirt writes neither attribute, nor <stats>, when they are off.
  Result<DomainXmlFacts> f =
      ParseDomainXml(Domain("<memballoon model='virtio'/>"));
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->balloon.autodeflate, false);
  EXPECT_EQ(f->balloon.free_page_reporting, false);
  EXPECT_EQ(f->balloon.stats_period_s, 0);
}

TEST(DomainXmlTest, TransitionalVirtioModelsAreVirtio) {
  for (const char* model : {"virtio-transitional", "virtio-non-transitional"}) {
    Result<DomainXmlFacts> f = ParseDomainXml(Domain(
        std::string("<memballoon model='") + model + "' autodeflate='on'/>"));
    ASSERT_TRUE(f.ok()) << model << ": " << f.status().ToString();
    EXPECT_EQ(f->balloon.autodeflate, true) << model;
  }
}

TEST(DomainXmlTest, NoVirtioBalloonLeavesEveryBalloonFieldUnknown) {
  for (const std::string& balloon :
       {std::string(""), std::string("<memballoon model='none'/>"),
        std::string("<memballoon model='xen' autodeflate='on'/>")}) {
    Result<DomainXmlFacts> f = ParseDomainXml(Domain(balloon));
    ASSERT_TRUE(f.ok()) << balloon << ": " << f.status().ToString();
    EXPECT_EQ(f->uuid, "4dea22b3-1d52-d8f3-2516-782e98ab3fa0");
    EXPECT_FALSE(f->balloon.autodeflate.has_value()) << balloon;
    EXPECT_FALSE(f->balloon.free_page_reporting.has_value()) << balloon;
    EXPECT_FALSE(f->balloon.stats_period_s.has_value()) << balloon;
  }
}

TEST(DomainXmlTest, OnlyTheDevicesMemballoonCounts) {
  // An element of the same name elsewhere (metadata, another namespace) is
  // not the device.
  const std::string xml =
      "<domain><uuid> u-1 </uuid><metadata>"
      "<x:memballoon xmlns:x='urn:x' model='virtio' autodeflate='on'/>"
      "</metadata><memballoon model='virtio' autodeflate='on'/>"
      "<devices><memballoon model='virtio'/></devices></domain>";
  Result<DomainXmlFacts> f = ParseDomainXml(xml);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->uuid, "u-1");
  EXPECT_EQ(f->balloon.autodeflate, false);
}

TEST(DomainXmlTest, RefusesWhatIsNotADomainDefinition) {
  struct Case {
    std::string xml;
    std::string says;
  };
  for (const Case& c : {
           Case{"", "domain XML"},
           Case{"<domain><devices></domain>", "line 1"},
           Case{"<network><name>default</name></network>", "not <domain>"},
           Case{Domain("<memballoon model='virtio' autodeflate='yes'/>"),
                "autodeflate='yes' is not on or off"},
           Case{Domain("<memballoon model='virtio' freePageReporting=''/>"),
                "freePageReporting='' is not on or off"},
           Case{Domain("<memballoon model='virtio'><stats period='-1'/>"
                       "</memballoon>"),
                "period='-1'"},
           Case{Domain("<memballoon model='virtio'><stats period='2s'/>"
                       "</memballoon>"),
                "period='2s'"},
       }) {
    Result<DomainXmlFacts> f = ParseDomainXml(c.xml);
    ASSERT_FALSE(f.ok()) << c.xml;
    EXPECT_EQ(f.status().code(), Status::Code::kInvalidArgument) << c.xml;
    EXPECT_NE(f.status().message().find(c.says), std::string::npos)
        << f.status().message();
  }
}

TEST(DomainXmlTest, ExternalEntitiesAreNotFetched) {
  // No file is read and no entity is expanded into the UUID.
  const std::string xml =
      "<?xml version='1.0'?>\n"
      "<!DOCTYPE domain [<!ENTITY x SYSTEM 'file:///etc/hostname'>]>\n"
      "<domain><uuid>&x;</uuid><devices>"
      "<memballoon model='virtio' autodeflate='on'/></devices></domain>";
  Result<DomainXmlFacts> f = ParseDomainXml(xml);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->uuid, "");
  EXPECT_EQ(f->balloon.autodeflate, true);
}

}  // namespace
}  // namespace memcoord
