using System.Text.Json;
using Courier.Broker;
using Courier.Client;
using Courier.Server;
using Courier.Worker;

namespace Courier.Tests.Infrastructure;

/// <summary>
/// In-process brokers and workers on random loopback ports. Fast heartbeats, but a peer is given up only after 5 s of
/// silence: a loaded CI machine can stall a test for well over 1.5 s, and a worker reconnecting under a request it
/// holds turns that request's outcome unknown. Tests about silent (stopped) peers ask for <see cref="QuickLiveness"/>.
/// </summary>
public static class TestBroker
{
    public static readonly TimeSpan Heartbeat = TimeSpan.FromMilliseconds(500);

    /// <summary>Missed heartbeats before a peer is given up: 10 × <see cref="Heartbeat"/>.</summary>
    public const int Liveness = 10;

    /// <summary>For tests that wait for a stopped peer to be given up: 3 × <see cref="Heartbeat"/>.</summary>
    public const int QuickLiveness = 3;

    public static async Task<CourierBroker> StartAsync(Func<CourierBrokerOptions, CourierBrokerOptions>? configure = null)
    {
        var options = CourierBrokerOptions.Default with { Endpoint = "tcp://127.0.0.1:*", HeartbeatInterval = Heartbeat, HeartbeatLiveness = Liveness };
        var broker = new CourierBroker(configure?.Invoke(options) ?? options);
        await broker.StartAsync();
        return broker;
    }

    /// <summary>A worker answering <c>whoami</c>-style with its name (and echoing the body after it), after <paramref name="delay"/>; or <paramref name="handler"/> when given.</summary>
    public static async Task<CourierWorker> StartWorkerAsync(
        string endpoint, string name, TimeSpan delay = default, string service = "echo", int concurrency = 10,
        Func<CourierWorkerOptions, CourierWorkerOptions>? configure = null, CourierHandler? handler = null)
    {
        var options = WorkerOptions(endpoint, name) with { Service = service, Concurrency = concurrency };
        handler ??= (request, _) => ValueTask.FromResult<IReadOnlyList<ReadOnlyMemory<byte>>>(
            [System.Text.Encoding.UTF8.GetBytes(name), .. request.Frames]);
        var worker = new CourierWorker(configure?.Invoke(options) ?? options, CourierServices.WithDelay(handler, delay));
        await worker.StartAsync();
        return worker;
    }

    /// <summary>
    /// Options for a test worker: fast heartbeats and reconnects, and no prefetch: the broker holds what the worker cannot
    /// run at once, so a test's worker capacity is its concurrency (prefetch has tests of its own, WorkerPrefetchTests).
    /// </summary>
    public static CourierWorkerOptions WorkerOptions(string endpoint, string name) => CourierWorkerOptions.Default with
    {
        BrokerEndpoint = endpoint,
        Name = name,
        Prefetch = 0,
        HeartbeatInterval = Heartbeat,
        HeartbeatLiveness = Liveness,
        ReconnectDelay = TimeSpan.FromMilliseconds(100),
        ReconnectDelayMax = TimeSpan.FromMilliseconds(500),
    };

    /// <summary>A handler answering with <paramref name="name"/> alone: a one-frame reply, which a worker may batch.</summary>
    public static CourierHandler Named(string name)
    {
        IReadOnlyList<ReadOnlyMemory<byte>> reply = [System.Text.Encoding.UTF8.GetBytes(name)];
        return (_, _) => ValueTask.FromResult(reply);
    }

    /// <summary>A handler answering with <paramref name="tag"/>, then the request's frames.</summary>
    public static CourierHandler Tagged(string tag)
    {
        var first = System.Text.Encoding.UTF8.GetBytes(tag);
        return (request, _) => ValueTask.FromResult<IReadOnlyList<ReadOnlyMemory<byte>>>([first, .. request.Frames]);
    }

    // The 8/MMI queries read and change nothing: asked as idempotent, one caught on a connection judged dead (a stalled
    // test process misses a probe's deadline) is asked again rather than failing with "outcome unknown".
    private static readonly CourierRequestOptions ReadOnly = CourierRequestOptions.Default with { Idempotent = true };

    /// <summary><c>mmi.workers</c> for <paramref name="service"/>: each worker's id, name, capacity and requests outstanding.</summary>
    public static async Task<List<(string Id, string Name, int Capacity, int Outstanding)>> WorkersAsync(CourierClient client, string service)
    {
        var reply = await client.RequestAsync("mmi.workers", service, ReadOnly);
        using var json = JsonDocument.Parse(reply.Body);
        return json.RootElement.TryGetProperty(service, out var workers)
            ? [.. workers.EnumerateArray().Select(w => (w.GetProperty("id").GetString()!, w.GetProperty("name").GetString()!,
                w.GetProperty("capacity").GetInt32(), w.GetProperty("outstanding").GetInt32()))]
            : [];
    }

    /// <summary>Polls <c>mmi.stats</c> until <paramref name="service"/> has <paramref name="workers"/> workers.</summary>
    public static async Task WaitForWorkersAsync(CourierClient client, string service, int workers)
    {
        await Poll.UntilAsync(async () => (await StatsAsync(client, service)).Workers == workers, TimeSpan.FromSeconds(30), $"{workers} worker(s) for {service}");
    }

    public static async Task<(int Workers, int Queued, int InFlight, long Served, long Errors)> StatsAsync(CourierClient client, string service)
    {
        var reply = await client.RequestAsync("mmi.stats", service, ReadOnly);
        using var json = JsonDocument.Parse(reply.Body);
        if (!json.RootElement.TryGetProperty(service, out var s))
        {
            return (0, 0, 0, 0, 0);
        }

        return (s.GetProperty("workers").GetInt32(), s.GetProperty("queued").GetInt32(), s.GetProperty("inflight").GetInt32(),
            s.GetProperty("served").GetInt64(), s.GetProperty("errors").GetInt64());
    }
}
