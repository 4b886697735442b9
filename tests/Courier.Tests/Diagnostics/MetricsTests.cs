using System.Text.Json;
using Courier.Client;
using Courier.Protocol;
using Courier.Server;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Diagnostics;

/// <summary>The Courier meter, read by a real MeterListener while a real broker, worker, server and client run.</summary>
public sealed class MetricsTests
{
    [Fact]
    public async Task A_brokered_request_is_counted_and_timed_by_client_broker_and_worker()
    {
        using var metrics = new MetricRecorder();
        var service = $"metered-{Guid.NewGuid():N}"[..20];
        await using var broker = await TestBroker.StartAsync();
        await using var worker = await TestBroker.StartWorkerAsync(broker.Endpoint!, "w1", service: service);
        await using var client = TestServer.Client(broker.Endpoint!);
        await TestBroker.WaitForWorkersAsync(client, service, 1);

        for (var i = 0; i < 20; i++)
        {
            await client.RequestAsync(service, "hello");
        }

        Assert.Equal(20, metrics.Of("courier.broker.requests", service).Where(m => m.Tags["rpc.response.status_code"] == "200").Sum(m => m.Value));
        var calls = metrics.Of("rpc.client.call.duration", service);
        Assert.Equal(20, calls.Count);
        Assert.All(calls, m => Assert.Equal(("courier", "200"), (m.Tags["rpc.system.name"], m.Tags["rpc.response.status_code"])));
        Assert.All(calls, m => Assert.InRange(m.Value, 0, 30)); // seconds, not milliseconds
        Assert.Equal(20, metrics.Of("rpc.server.call.duration", service).Count(m => m.Tags["courier.role"] == "worker"));
        Assert.Equal(20, metrics.Of("courier.broker.queue.wait", service).Count);
        Assert.Equal(20, metrics.Of("courier.broker.request.duration", service).Count);
        Assert.Contains(metrics.Of("courier.transport.received"), m => m.Tags["courier.role"] == "broker" && m.Value > 0);
        Assert.Contains(metrics.Of("courier.transport.sent"), m => m.Tags["courier.role"] == "worker" && m.Value > 0);

        // Gauges: the broker publishes its snapshot on its tick.
        await Poll.UntilAsync(() => metrics.Latest("courier.broker.workers", service) == 1, TimeSpan.FromSeconds(30), "one worker in the gauge");
    }

    [Fact]
    public async Task Queued_requests_show_in_the_broker_gauge_and_failures_by_status()
    {
        using var metrics = new MetricRecorder();
        var service = $"gauged-{Guid.NewGuid():N}"[..20];
        await using var broker = await TestBroker.StartAsync();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var worker = await TestBroker.StartWorkerAsync(
            broker.Endpoint!, "slow", service: service, concurrency: 1,
            handler: async (request, cancellationToken) =>
            {
                await release.Task.WaitAsync(cancellationToken);
                return request.Frames;
            });
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(60), Retries = 0 });
        await TestBroker.WaitForWorkersAsync(client, service, 1);

        var pending = Enumerable.Range(0, 4).Select(_ => client.RequestAsync(service, "x")).ToArray();
        await Poll.UntilAsync(() => metrics.Latest("courier.broker.queued_requests", service) == 3, TimeSpan.FromSeconds(30), "three queued");
        Assert.Equal(1, metrics.Latest("courier.broker.active_requests", service));
        release.SetResult();
        await Task.WhenAll(pending);
        await Poll.UntilAsync(() => metrics.Latest("courier.broker.queued_requests", service) == 0, TimeSpan.FromSeconds(30), "queue empty again");

        // A name nobody serves is not a tag value: a client could otherwise make series without bound.
        await Assert.ThrowsAsync<CourierRemoteException>(() => client.RequestAsync($"nosuch-{Guid.NewGuid():N}", "x"));
        await Poll.UntilAsync(() => metrics.Of("courier.broker.requests", "_OTHER").Any(m => m.Tags["rpc.response.status_code"] == "404"), TimeSpan.FromSeconds(30), "404 counted");
        Assert.DoesNotContain(metrics.Of("courier.broker.requests"), m => m.Tags["rpc.method"]!.StartsWith("nosuch-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Names_a_broker_does_not_keep_fold_into_one_tag_value_however_many_a_client_asks_for()
    {
        using var metrics = new MetricRecorder();
        var prefix = $"unkept-{Guid.NewGuid():N}"[..20];
        // Two names fit (queued within the grace period, then answered 404); the rest find the broker full: 503.
        await using var broker = await TestBroker.StartAsync(o => o with { MaxServices = 2, ServiceGracePeriod = TimeSpan.FromSeconds(3) });
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(30), Retries = 0 });

        var answers = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => Record.ExceptionAsync(() => client.RequestAsync($"{prefix}-{i}", "x"))));

        var statuses = answers.Select(e => Assert.IsType<CourierRemoteException>(e).StatusCode).ToHashSet();
        Assert.Contains(CourierStatus.Unavailable, statuses);
        string[] instruments = ["courier.broker.requests", "courier.broker.request.duration"];
        var methods = instruments.SelectMany(i => metrics.Of(i)).Select(m => m.Tags["rpc.method"]!).ToArray();
        Assert.DoesNotContain(methods, m => m.StartsWith(prefix, StringComparison.Ordinal));
        Assert.Contains(metrics.Of("courier.broker.requests", "_OTHER"), m => m.Tags["rpc.response.status_code"] == "503");
    }

    [Fact]
    public async Task A_server_counts_its_answers_and_times_its_handlers_with_error_status()
    {
        using var metrics = new MetricRecorder();
        var service = $"served-{Guid.NewGuid():N}"[..20];
        await using var server = await TestServer.StartAsync(map: s => s.Map(service, (request, _) =>
            request.BodyText == "fail" ? throw new InvalidOperationException("no") : ValueTask.FromResult(CourierBody.Text("ok"))));
        await using var client = TestServer.Client(server.Endpoint!);

        await client.RequestAsync(service, "fine");
        var failure = await Assert.ThrowsAsync<CourierRemoteException>(() => client.RequestAsync(service, "fail"));
        Assert.Equal(CourierStatus.ServerError, failure.StatusCode);

        var handled = metrics.Of("rpc.server.call.duration", service);
        Assert.Equal(["200", "500"], handled.Select(m => m.Tags["rpc.response.status_code"]).Order());
        Assert.All(handled, m => Assert.Equal("server", m.Tags["courier.role"]));
        Assert.Equal("500", handled.Single(m => m.Tags.ContainsKey("error.type")).Tags["error.type"]);
        Assert.Equal(2, metrics.Of("courier.server.requests", service).Sum(m => m.Value));
        Assert.Contains(metrics.Of("rpc.client.call.duration", service), m => m.Tags.GetValueOrDefault("error.type") == "500");
    }

    [Fact]
    public async Task Mmi_stats_gives_latency_percentiles_once_watched()
    {
        var service = $"watched-{Guid.NewGuid():N}"[..20];
        await using var broker = await TestBroker.StartAsync();
        await using var worker = await TestBroker.StartWorkerAsync(broker.Endpoint!, "w1", service: service);
        await using var client = TestServer.Client(broker.Endpoint!);
        await TestBroker.WaitForWorkersAsync(client, service, 1); // asks mmi.stats: from now on latencies are recorded

        for (var i = 0; i < 50; i++)
        {
            await client.RequestAsync(service, "x");
        }

        var reply = await client.RequestAsync("mmi.stats", service);
        using var json = JsonDocument.Parse(reply.Body);
        var stats = json.RootElement.GetProperty(service);
        var (p50, p90, p99) = (stats.GetProperty("p50_ms").GetDouble(), stats.GetProperty("p90_ms").GetDouble(), stats.GetProperty("p99_ms").GetDouble());
        Assert.True(p50 > 0 && p50 <= p90 && p90 <= p99, $"p50 {p50}, p90 {p90}, p99 {p99}");
        Assert.Equal(50, stats.GetProperty("served").GetInt64());
        Assert.Equal(0, stats.GetProperty("requeued").GetInt64());
    }
}
