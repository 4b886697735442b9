using Courier.Cli;

namespace Courier.Tests.Cli;

public sealed class EndpointSyntaxTests
{
    [Theory]
    [InlineData("tcp://127.0.0.1:5555", false)]
    [InlineData("tcp://broker:5555", false)]
    [InlineData("tcp://courier_broker_1:5555", false)]
    [InlineData("tcp://[::1]:5555", false)]
    [InlineData("tcp://0.0.0.0:5555", true)]
    [InlineData("tcp://127.0.0.1:*", true)]
    [InlineData("tcp://*:5555", true)]
    [InlineData("tcp://*:*", true)]
    [InlineData("ipc:///tmp/courier.sock", false)]
    [InlineData("inproc://courier", true)]
    public void Accepts_well_formed_endpoints(string endpoint, bool bind)
    {
        Assert.Null(EndpointSyntax.Check(endpoint, bind));
    }

    [Theory]
    [InlineData("localhost:5999", false, "has no scheme; write tcp://localhost:5999")]
    [InlineData("nonsense://nowhere", true, "has the scheme 'nonsense://'")]
    [InlineData("tcp://", false, "has no host")]
    [InlineData("tcp://127.0.0.1", false, "has no port")]
    [InlineData("tcp://[::1]", false, "has no port")]
    [InlineData("tcp://:5555", false, "has no host")]
    [InlineData("tcp://127.0.0.1:0", false, "a port is 1-65535")]
    [InlineData("tcp://127.0.0.1:65536", true, "a port is 1-65535")]
    [InlineData("tcp://127.0.0.1:-1", false, "a port is 1-65535")]
    [InlineData("tcp://127.0.0.1:http", false, "a port is 1-65535")]
    [InlineData("tcp://127.0.0.1:*", false, "port * only suits a bind")]
    [InlineData("tcp://*:5555", false, "'*' is only for --bind")]
    [InlineData("tcp://bad host:5555", false, "contains a space")]
    [InlineData("tcp://a/b:5555", false, "not a host name or address")]
    [InlineData("ipc://", false, "has no path")]
    public void Says_what_is_wrong_with_a_malformed_endpoint(string endpoint, bool bind, string expected)
    {
        Assert.Contains(expected, EndpointSyntax.Check(endpoint, bind), StringComparison.Ordinal);
    }
}
