using Courier.Broker;
using Courier.Client;
using Courier.Server;
using Courier.Worker;

namespace Courier.Tests.Unit;

/// <summary>A mistyped endpoint fails each role's construction, naming the setting: before, it passed and failed later, off the caller's thread.</summary>
public sealed class EndpointValidationTests
{
    [Fact]
    public void A_client_with_an_endpoint_without_scheme_is_not_constructed()
    {
        var error = Assert.Throws<ArgumentException>(() => new CourierClient(CourierClientOptions.Default with { Endpoints = ["localhost:5700"] }));

        Assert.StartsWith("CourierClientOptions.Endpoints[0]: 'localhost:5700' has no scheme; write tcp://localhost:5700", error.Message, StringComparison.Ordinal);
        Assert.Equal("Endpoints", error.ParamName);
    }

    [Fact]
    public void A_client_names_which_of_its_endpoints_is_wrong()
    {
        var error = Assert.Throws<ArgumentException>(() => new CourierClient(CourierClientOptions.Default with { Endpoints = ["tcp://a:5555", "tcp://b:99999"] }));

        Assert.StartsWith("CourierClientOptions.Endpoints[1]: 'tcp://b:99999' has port 99999, outside 1-65535", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_client_for_one_endpoint_checks_it_too()
        => Assert.Throws<ArgumentException>(() => new CourierClient("127.0.0.1:5555"));

    [Fact]
    public void A_server_with_a_port_out_of_range_is_not_constructed()
    {
        var error = Assert.Throws<ArgumentException>(() => new CourierServer(CourierServerOptions.Default with { Endpoint = "tcp://127.0.0.1:99999" }));

        Assert.StartsWith("CourierServerOptions.Endpoint: 'tcp://127.0.0.1:99999' has port 99999, outside 1-65535", error.Message, StringComparison.Ordinal);
        Assert.Equal("Endpoint", error.ParamName);
    }

    [Fact]
    public void A_broker_with_an_endpoint_without_scheme_is_not_constructed()
    {
        var error = Assert.Throws<ArgumentException>(() => new CourierBroker(CourierBrokerOptions.Default with { Endpoint = "0.0.0.0:5555" }));

        Assert.StartsWith("CourierBrokerOptions.Endpoint: '0.0.0.0:5555' has no scheme; write tcp://0.0.0.0:5555", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_worker_with_a_broker_endpoint_without_scheme_is_not_constructed()
    {
        var error = Assert.Throws<ArgumentException>(
            () => new CourierWorker(CourierWorkerOptions.Default with { BrokerEndpoint = "broker:5555" }, CourierServices.Echo));

        Assert.StartsWith("CourierWorkerOptions.BrokerEndpoint: 'broker:5555' has no scheme; write tcp://broker:5555", error.Message, StringComparison.Ordinal);
        Assert.Equal("BrokerEndpoint", error.ParamName);
    }

    [Fact]
    public void A_worker_cannot_connect_to_any_port()
    {
        var error = Assert.Throws<ArgumentException>(
            () => new CourierWorker(CourierWorkerOptions.Default with { BrokerEndpoint = "tcp://127.0.0.1:*" }, CourierServices.Echo));

        Assert.Contains("which only a bind takes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Binding_roles_take_any_host_and_any_port()
    {
        _ = new CourierServer(CourierServerOptions.Default with { Endpoint = "tcp://*:*" });
        _ = new CourierBroker(CourierBrokerOptions.Default with { Endpoint = "tcp://*:0" });
    }
}
