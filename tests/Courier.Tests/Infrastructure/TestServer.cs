using Courier.Client;
using Courier.Server;

namespace Courier.Tests.Infrastructure;

/// <summary>An in-process server on a random loopback port, and clients for it.</summary>
public static class TestServer
{
    public static async Task<CourierServer> StartAsync(Func<CourierServerOptions, CourierServerOptions>? configure = null, Action<CourierServer>? map = null)
    {
        var options = CourierServerOptions.Default with { Endpoint = "tcp://127.0.0.1:*", Name = "test-server" };
        var server = new CourierServer(configure?.Invoke(options) ?? options);
        map?.Invoke(server);
        await server.StartAsync();
        return server;
    }

    public static CourierClient Client(string endpoint, Func<CourierClientOptions, CourierClientOptions>? configure = null)
    {
        var options = CourierClientOptions.Default with { Endpoints = [endpoint], Timeout = TimeSpan.FromSeconds(5), Retries = 2 };
        return new CourierClient(configure?.Invoke(options) ?? options);
    }
}
