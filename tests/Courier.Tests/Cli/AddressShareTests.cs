using System.Net;
using Courier.Cli.Telemetry;

namespace Courier.Tests.Cli;

/// <summary>Which peers share one address's share of the metrics endpoint's connections.</summary>
public sealed class AddressShareTests
{
    [Theory]
    [InlineData("127.0.0.1", "::ffff:127.0.0.1", true)] // a dual-stack listener sees IPv4 peers mapped
    [InlineData("10.0.0.1", "10.0.0.2", false)]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", true)] // one host holds a /64 whole
    [InlineData("2001:db8:1:2::1", "2001:db8:1:3::1", false)]
    [InlineData("0.0.0.1", "::1", false)]
    public void Addresses_share_a_key_when_one_peer_holds_both(string a, string b, bool same)
        => Assert.Equal(same, AddressShare.KeyOf(IPAddress.Parse(a)) == AddressShare.KeyOf(IPAddress.Parse(b)));
}
