using System.Text.Json;
using Courier.Broker;
using Courier.Client;
using Courier.Server;
using Courier.Worker;

namespace Courier.Tests.Infrastructure;

/// <summary>In-process brokers and workers on random loopback ports, with fast heartbeats so failures show quickly.</summary>
public static class TestBroker
{
    public static readonly TimeSpan Heartbeat = TimeSpan.FromMilliseconds(500);

    public static async Task<CourierBroker> StartAsync(Func<CourierBrokerOptions, CourierBrokerOptions>? configure = null)
    {
        var options = CourierBrokerOptions.Default with { Endpoint = "tcp://127.0.0.1:*", HeartbeatInterval = Heartbeat, HeartbeatLiveness = 3 };
        var broker = new CourierBroker(configure?.Invoke(options) ?? options);
        await broker.StartAsync();
        return broker;
    }

    /// <summary>A worker answering <c>whoami</c>-style with its name (and echoing the body after it), after <paramref name="delay"/>; or <paramref name="handler"/> when given.</summary>
    public static async Task<CourierWorker> StartWorkerAsync(
        string endpoint, string name, TimeSpan delay = default, string service = "echo", int concurrency = 10,
        Func<CourierWorkerOptions, CourierWorkerOptions>? configure = null, CourierHandler? handler = null)
    {
        var options = CourierWorkerOptions.Default with
        {
            BrokerEndpoint = endpoint,
            Service = service,
            Name = name,
            Concurrency = concurrency,
            HeartbeatInterval = Heartbeat,
            ReconnectDelay = TimeSpan.FromMilliseconds(100),
            ReconnectDelayMax = TimeSpan.FromMilliseconds(500),
        };
        handler ??= (request, _) => ValueTask.FromResult<IReadOnlyList<ReadOnlyMemory<byte>>>(
            [System.Text.Encoding.UTF8.GetBytes(name), .. request.Frames]);
        var worker = new CourierWorker(configure?.Invoke(options) ?? options, CourierServices.WithDelay(handler, delay));
        await worker.StartAsync();
        return worker;
    }

    /// <summary>Polls <c>mmi.stats</c> until <paramref name="service"/> has <paramref name="workers"/> workers.</summary>
    public static async Task WaitForWorkersAsync(CourierClient client, string service, int workers)
    {
        await Poll.UntilAsync(async () => (await StatsAsync(client, service)).Workers == workers, TimeSpan.FromSeconds(30), $"{workers} worker(s) for {service}");
    }

    public static async Task<(int Workers, int Queued, int InFlight, long Served, long Errors)> StatsAsync(CourierClient client, string service)
    {
        var reply = await client.RequestAsync("mmi.stats", service);
        using var json = JsonDocument.Parse(reply.Body);
        if (!json.RootElement.TryGetProperty(service, out var s))
        {
            return (0, 0, 0, 0, 0);
        }

        return (s.GetProperty("workers").GetInt32(), s.GetProperty("queued").GetInt32(), s.GetProperty("inflight").GetInt32(),
            s.GetProperty("served").GetInt64(), s.GetProperty("errors").GetInt64());
    }
}
