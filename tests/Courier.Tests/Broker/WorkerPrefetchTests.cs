using System.Collections.Concurrent;
using Courier.Client;
using Courier.Server;
using Courier.Tests.Infrastructure;
using Courier.Worker;

namespace Courier.Tests.Broker;

/// <summary>
/// A worker's <see cref="CourierWorkerOptions.Prefetch"/>: requests a broker hands it beyond its concurrency wait in the
/// worker, never run beyond that concurrency, and a waiting request that cannot be run any more is answered without running.
/// </summary>
public sealed class WorkerPrefetchTests
{
    [Fact]
    public async Task A_worker_takes_its_prefetch_beyond_its_concurrency_at_most_as_many_and_never_runs_more_than_its_concurrency()
    {
        using var metrics = new MetricRecorder();
        var slow = $"slow-{Guid.NewGuid():N}"[..16];
        await using var broker = await TestBroker.StartAsync();
        using var gate = new SemaphoreSlim(0);
        var gated = new Gated(gate);
        await using var worker = await TestBroker.StartWorkerAsync(
            broker.Endpoint!, "w", service: slow, concurrency: 2, configure: o => o with { Prefetch = 5 }, handler: gated.Handle);
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(60), Retries = 0 });
        await TestBroker.WaitForWorkersAsync(client, slow, 1);

        var requests = Enumerable.Range(0, 6).Select(i => client.RequestAsync(slow, $"r{i}")).ToArray();

        // Its prefetch is capped at its concurrency: the broker sees room for four at this worker (two running, two
        // waiting there) and keeps the other two.
        await Poll.UntilAsync(() => gated.Started == 2, what: "two handlers running");
        await Poll.UntilAsync(
            async () => (await TestBroker.WorkersAsync(client, slow)) is [(_, _, 4, 4)] && (await TestBroker.StatsAsync(client, slow)).Queued == 2,
            TimeSpan.FromSeconds(30),
            "four requests at the worker (capacity 4), two queued at the broker");
        Assert.Equal(2, gated.Started);
        await Poll.UntilAsync(() => metrics.Latest("courier.worker.queued_requests", slow) == 2, TimeSpan.FromSeconds(30), "two waiting in the worker's gauge");

        gate.Release(6);
        var bodies = await Task.WhenAll(requests).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(["r0", "r1", "r2", "r3", "r4", "r5"], bodies.Select(r => r.BodyText).Order());
        Assert.Equal(2, gated.Most);
        Assert.Equal(0, metrics.Latest("courier.worker.queued_requests", slow));
    }

    [Fact]
    public async Task A_request_whose_deadline_passed_while_it_waited_in_the_worker_is_never_run()
    {
        await using var broker = await TestBroker.StartAsync();
        using var gate = new SemaphoreSlim(0);
        var gated = new Gated(gate);
        await using var worker = await TestBroker.StartWorkerAsync(
            broker.Endpoint!, "w", service: "slow", concurrency: 1, configure: o => o with { Prefetch = 1 }, handler: gated.Handle);
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(60), Retries = 0 });
        await TestBroker.WaitForWorkersAsync(client, "slow", 1);

        var first = client.RequestAsync("slow", "first");
        await Poll.UntilAsync(() => gated.Started == 1, what: "the first handler running");
        var late = client.RequestAsync("slow", "late", CourierRequestOptions.Default with { Deadline = TimeSpan.FromSeconds(2) });
        await Poll.UntilAsync(
            async () => (await TestBroker.WorkersAsync(client, "slow")) is [(_, _, 2, 2)], TimeSpan.FromSeconds(30), "the late request waiting at the worker");

        await Assert.ThrowsAsync<CourierTimeoutException>(() => late).WaitAsync(TimeSpan.FromSeconds(30));
        gate.Release(1);
        Assert.Equal("first", (await first.WaitAsync(TimeSpan.FromSeconds(30))).BodyText);

        // The place it waited for goes to the next request; the late one's handler never ran.
        gate.Release(1);
        Assert.Equal("next", (await client.RequestAsync("slow", "next").WaitAsync(TimeSpan.FromSeconds(30))).BodyText);
        Assert.Equal(["first", "next"], gated.Bodies);
    }

    [Fact]
    public async Task A_request_its_caller_cancels_while_it_waits_in_the_worker_frees_its_place_at_once_and_never_runs()
    {
        await using var broker = await TestBroker.StartAsync();
        using var gate = new SemaphoreSlim(0);
        var gated = new Gated(gate);
        await using var worker = await TestBroker.StartWorkerAsync(
            broker.Endpoint!, "w", service: "slow", concurrency: 1, configure: o => o with { Prefetch = 1 }, handler: gated.Handle);
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(60), Retries = 0 });
        await TestBroker.WaitForWorkersAsync(client, "slow", 1);

        var first = client.RequestAsync("slow", "first");
        await Poll.UntilAsync(() => gated.Started == 1, what: "the first handler running");
        using var cancellation = new CancellationTokenSource();
        var cancelled = client.RequestAsync("slow", "cancelled", cancellation.Token);
        await Poll.UntilAsync(
            async () => (await TestBroker.WorkersAsync(client, "slow")) is [(_, _, 2, 2)], TimeSpan.FromSeconds(30), "the second request waiting at the worker");

        // The CANCEL reaches the worker through the broker; the worker answers the waiting request at once, while the
        // first still runs, and the broker's place for it is free again.
        await cancellation.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled).WaitAsync(TimeSpan.FromSeconds(30));
        await Poll.UntilAsync(
            async () => (await TestBroker.WorkersAsync(client, "slow")) is [(_, _, 2, 1)], TimeSpan.FromSeconds(30), "only the running request at the worker");

        gate.Release(1);
        Assert.Equal("first", (await first.WaitAsync(TimeSpan.FromSeconds(30))).BodyText);
        gate.Release(1);
        Assert.Equal("next", (await client.RequestAsync("slow", "next").WaitAsync(TimeSpan.FromSeconds(30))).BodyText);
        Assert.Equal(["first", "next"], gated.Bodies);
    }

    [Fact]
    public async Task A_stopping_worker_answers_what_waits_in_it_503_and_the_caller_is_served_by_another_worker()
    {
        await using var broker = await TestBroker.StartAsync();
        using var gate = new SemaphoreSlim(0);
        var gated = new Gated(gate);
        var stopping = await TestBroker.StartWorkerAsync(
            broker.Endpoint!, "stopping", service: "slow", concurrency: 1, configure: o => o with { Prefetch = 1 }, handler: gated.Handle);
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(60), Retries = 3 });
        await TestBroker.WaitForWorkersAsync(client, "slow", 1);

        var running = client.RequestAsync("slow", "running");
        await Poll.UntilAsync(() => gated.Started == 1, what: "the first handler running");
        var waiting = client.RequestAsync("slow", "waiting");
        await Poll.UntilAsync(
            async () => (await TestBroker.WorkersAsync(client, "slow")) is [(_, _, 2, 2)], TimeSpan.FromSeconds(30), "the second request waiting at the worker");

        // Another worker comes; the first begins a graceful stop, which lets its running handler finish.
        await using var other = await TestBroker.StartWorkerAsync(
            broker.Endpoint!, "other", service: "slow", handler: (request, _) => ValueTask.FromResult<IReadOnlyList<ReadOnlyMemory<byte>>>([System.Text.Encoding.UTF8.GetBytes("other " + request.BodyText)]));
        var stop = stopping.DisposeAsync().AsTask();

        Assert.Equal("other waiting", (await waiting.WaitAsync(TimeSpan.FromSeconds(30))).BodyText);
        gate.Release(1);
        Assert.Equal("running", (await running.WaitAsync(TimeSpan.FromSeconds(30))).BodyText);
        await stop.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(["running"], gated.Bodies);
    }

    /// <summary>A handler that waits at a gate, counting how many run at once and what each was asked.</summary>
    private sealed class Gated(SemaphoreSlim gate)
    {
        private readonly ConcurrentQueue<string> _bodies = new();
        private int _running;
        private int _most;
        private int _started;

        public int Started => Volatile.Read(ref _started);

        public int Most => Volatile.Read(ref _most);

        public string[] Bodies => [.. _bodies];

        public async ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> Handle(CourierRequest request, CancellationToken cancellationToken)
        {
            _bodies.Enqueue(request.BodyText);
            Interlocked.Increment(ref _started);
            var now = Interlocked.Increment(ref _running);
            int seen;
            while ((seen = Volatile.Read(ref _most)) < now && Interlocked.CompareExchange(ref _most, now, seen) != seen)
            {
            }

            try
            {
                await gate.WaitAsync(cancellationToken);
                return request.Frames;
            }
            finally
            {
                Interlocked.Decrement(ref _running);
            }
        }
    }
}
