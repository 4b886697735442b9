using Courier.Transport.Internal;

namespace Courier.Tests.Unit;

public sealed class EndpointAddressTests
{
    [Theory]
    [InlineData("tcp://127.0.0.1:5555")]
    [InlineData("tcp://localhost:1")]
    [InlineData("tcp://broker:65535")]
    [InlineData("tcp://my_service.internal-net:5555")]
    [InlineData("tcp://[::1]:5555")]
    [InlineData("tcp://[fe80::1%eth0]:5555")]
    [InlineData("ipc:///tmp/courier.sock")]
    [InlineData("ipc://@abstract-name")]
    [InlineData("inproc://courier")]
    [InlineData("inproc://tests/any-name.1")]
    public void Takes_endpoints_to_connect_to(string endpoint)
        => Assert.Null(EndpointAddress.Problem(endpoint, EndpointUse.Connect));

    [Theory]
    [InlineData("tcp://127.0.0.1:5555")]
    [InlineData("tcp://0.0.0.0:5555")]
    [InlineData("tcp://*:5555")]
    [InlineData("tcp://127.0.0.1:*")]
    [InlineData("tcp://127.0.0.1:0")]
    [InlineData("tcp://*:*")]
    [InlineData("tcp://eth0:5555")]
    [InlineData("tcp://[::]:5555")]
    [InlineData("ipc:///tmp/courier.sock")]
    [InlineData("inproc://courier")]
    public void Takes_endpoints_to_bind(string endpoint)
        => Assert.Null(EndpointAddress.Problem(endpoint, EndpointUse.Bind));

    [Theory]
    [InlineData(null, "no endpoint given")]
    [InlineData("", "no endpoint given")]
    [InlineData("   ", "no endpoint given")]
    [InlineData("localhost:5700", "'localhost:5700' has no scheme; write tcp://localhost:5700")]
    [InlineData("127.0.0.1", "'127.0.0.1' has no scheme; write tcp://127.0.0.1")]
    [InlineData("tcp:127.0.0.1:5555", "lacks the '//' after 'tcp:'; write tcp://127.0.0.1:5555")]
    [InlineData("tcp:/127.0.0.1:5555", "lacks the '//' after 'tcp:'; write tcp://127.0.0.1:5555")]
    [InlineData("TCP://127.0.0.1:5555", "schemes are lower case: write tcp://127.0.0.1:5555")]
    [InlineData("http://127.0.0.1:5555", "has scheme 'http', which Courier does not use; write tcp://, ipc:// or inproc://")]
    [InlineData("udp://127.0.0.1:5555", "has scheme 'udp'")]
    [InlineData(" tcp://127.0.0.1:5555", "has white space around it; write tcp://127.0.0.1:5555")]
    [InlineData("tcp://127.0.0.1 :5555", "contains white space")]
    [InlineData("tcp://127.0.0.1:99999", "has port 99999, outside 1-65535")]
    [InlineData("tcp://127.0.0.1:65536", "outside 1-65535")]
    [InlineData("tcp://127.0.0.1:0", "connects to port 0, which only a bind takes")]
    [InlineData("tcp://127.0.0.1:*", "connects to port *, which only a bind takes")]
    [InlineData("tcp://127.0.0.1:-1", "has port '-1', which is not a number from 1 to 65535")]
    [InlineData("tcp://127.0.0.1:http", "has port 'http'")]
    [InlineData("tcp://127.0.0.1:5555/", "has port '5555/'")]
    [InlineData("tcp://127.0.0.1", "has no port; write tcp://127.0.0.1:5555")]
    [InlineData("tcp://127.0.0.1:", "has no port; write tcp://127.0.0.1:5555")]
    [InlineData("tcp://:5555", "has no host; write tcp://127.0.0.1:5555")]
    [InlineData("tcp://*:5555", "connects to host '*', which only a bind takes")]
    [InlineData("tcp://::1:5555", "has an IPv6 host without brackets; write tcp://[::1]:5555")]
    [InlineData("tcp://[::1:5555", "without its closing ']'")]
    [InlineData("tcp://[::1]5555", "has '5555' after its host")]
    [InlineData("tcp://[::1]", "has no port; write tcp://[::1]:5555")]
    [InlineData("tcp://local/host:5555", "has host 'local/host', which is neither a name nor an address")]
    [InlineData("tcp://10.0.0.1:5555;10.0.0.2:5555", "names a source address (';')")]
    [InlineData("ipc://", "has no path")]
    [InlineData("inproc://", "has no name")]
    public void Says_what_is_wrong_with_an_endpoint_to_connect_to(string? endpoint, string problem)
        => Assert.Contains(problem, EndpointAddress.Problem(endpoint, EndpointUse.Connect), StringComparison.Ordinal);

    [Theory]
    [InlineData("tcp://127.0.0.1", "has no port; write tcp://127.0.0.1:5555 (or :* for any free port)")]
    [InlineData("tcp://:5555", "has no host; write tcp://*:5555 for every interface, or tcp://127.0.0.1:5555 for this machine only")]
    [InlineData("tcp://127.0.0.1:00", "has port 00, outside 1-65535")]
    [InlineData("tcp://127.0.0.1:70000", "outside 1-65535")]
    [InlineData("localhost:5700", "has no scheme")]
    public void Says_what_is_wrong_with_an_endpoint_to_bind(string endpoint, string problem)
        => Assert.Contains(problem, EndpointAddress.Problem(endpoint, EndpointUse.Bind), StringComparison.Ordinal);

    [Fact]
    public void Rejects_an_ipc_path_longer_than_a_unix_socket_address_holds()
    {
        var longest = "ipc:///" + new string('x', 106);

        Assert.Null(EndpointAddress.Problem(longest, EndpointUse.Bind));
        Assert.Contains("has a path of 108 bytes; an ipc path has at most 107", EndpointAddress.Problem(longest + "x", EndpointUse.Bind), StringComparison.Ordinal);
    }
}
