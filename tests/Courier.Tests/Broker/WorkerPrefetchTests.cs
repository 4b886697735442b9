using System.Collections.Concurrent;
using Courier.Broker;
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
        await using var stage = await Stage.StartAsync($"slow-{Guid.NewGuid():N}"[..16], concurrency: 2, prefetch: 5);
        var (client, gated, slow) = (stage.Client, stage.Gated, stage.Service);

        var requests = Enumerable.Range(0, 6).Select(i => client.RequestAsync(slow, $"r{i}")).ToArray();

        // Its prefetch is capped at its concurrency: the broker sees room for four at this worker (two running, two
        // waiting there) and keeps the other two.
        await Poll.UntilAsync(() => gated.Started == 2, what: "two handlers running");
        await stage.AtWorkerAsync(capacity: 4, outstanding: 4, "four requests at the worker (capacity 4)");
        await Poll.UntilAsync(async () => (await TestBroker.StatsAsync(client, slow)).Queued == 2, TimeSpan.FromSeconds(30), "two queued at the broker");
        Assert.Equal(2, gated.Started);
        await Poll.UntilAsync(() => metrics.Latest("courier.worker.queued_requests", slow) == 2, TimeSpan.FromSeconds(30), "two waiting in the worker's gauge");

        stage.Gate.Release(6);
        var bodies = await Task.WhenAll(requests).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(["r0", "r1", "r2", "r3", "r4", "r5"], bodies.Select(r => r.BodyText).Order());
        Assert.Equal(2, gated.Most);
        Assert.Equal(0, metrics.Latest("courier.worker.queued_requests", slow));
    }

    [Fact]
    public async Task A_request_whose_deadline_passed_while_it_waited_in_the_worker_frees_its_place_and_is_never_run()
    {
        await using var stage = await Stage.StartAsync("slow", concurrency: 1, prefetch: 1);
        var first = await stage.RunningAsync("first");
        var late = stage.Client.RequestAsync("slow", "late", CourierRequestOptions.Default with { Deadline = TimeSpan.FromSeconds(2) });
        await stage.AtWorkerAsync(capacity: 2, outstanding: 2, "the late request waiting at the worker");

        // Past its deadline the worker answers it (504) while the first still runs: the broker's place for it is free.
        await Assert.ThrowsAsync<CourierTimeoutException>(() => late).WaitAsync(TimeSpan.FromSeconds(30));
        await stage.AtWorkerAsync(capacity: 2, outstanding: 1, "only the running request at the worker");
        await stage.ServedAfterAsync(first);
    }

    [Fact]
    public async Task A_request_its_caller_cancels_while_it_waits_in_the_worker_frees_its_place_at_once_and_never_runs()
    {
        await using var stage = await Stage.StartAsync("slow", concurrency: 1, prefetch: 1);
        var first = await stage.RunningAsync("first");
        using var cancellation = new CancellationTokenSource();
        var cancelled = stage.Client.RequestAsync("slow", "cancelled", cancellation.Token);
        await stage.AtWorkerAsync(capacity: 2, outstanding: 2, "the second request waiting at the worker");

        // The CANCEL reaches the worker through the broker; the worker answers the waiting request at once, while the
        // first still runs, and the broker's place for it is free again.
        await cancellation.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled).WaitAsync(TimeSpan.FromSeconds(30));
        await stage.AtWorkerAsync(capacity: 2, outstanding: 1, "only the running request at the worker");

        await stage.ServedAfterAsync(first);
    }

    [Fact]
    public async Task A_stopping_worker_answers_what_waits_in_it_503_and_the_caller_is_served_by_another_worker()
    {
        await using var stage = await Stage.StartAsync("slow", concurrency: 1, prefetch: 1, retries: 3);
        var running = await stage.RunningAsync("running");
        var waiting = stage.Client.RequestAsync("slow", "waiting");
        await stage.AtWorkerAsync(capacity: 2, outstanding: 2, "the second request waiting at the worker");

        // Another worker comes; the first begins a graceful stop, which lets its running handler finish.
        await using var other = await TestBroker.StartWorkerAsync(
            stage.Broker.Endpoint!, "other", service: "slow", handler: (request, _) => ValueTask.FromResult<IReadOnlyList<ReadOnlyMemory<byte>>>([System.Text.Encoding.UTF8.GetBytes("other " + request.BodyText)]));
        var stop = stage.Worker.DisposeAsync().AsTask();

        Assert.Equal("other waiting", (await waiting.WaitAsync(TimeSpan.FromSeconds(30))).BodyText);
        stage.Gate.Release(1);
        Assert.Equal("running", (await running.WaitAsync(TimeSpan.FromSeconds(30))).BodyText);
        await stop.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(["running"], stage.Gated.Bodies);
    }

    [Fact]
    public async Task A_service_mapped_with_a_prefetch_of_its_own_declares_it_while_the_others_keep_the_workers()
    {
        await using var broker = await TestBroker.StartAsync();
        var slow = $"slow-{Guid.NewGuid():N}"[..16];
        var fast = $"fast-{Guid.NewGuid():N}"[..16];
        await using var worker = new CourierWorker(TestBroker.WorkerOptions(broker.Endpoint!, "mixed") with { Prefetch = 5 })
            .Map(slow, TestBroker.Tagged("slow"), concurrency: 2, prefetch: 0)
            .Map(fast, TestBroker.Tagged("fast"), concurrency: 3);
        await worker.StartAsync();
        await using var client = TestServer.Client(broker.Endpoint!);
        await TestBroker.WaitForWorkersAsync(client, fast, 1);
        await TestBroker.WaitForWorkersAsync(client, slow, 1);

        // The slow one takes only what it can start; the other holds the worker's prefetch, capped at its concurrency.
        Assert.Equal(2, Assert.Single(await TestBroker.WorkersAsync(client, slow)).Capacity);
        Assert.Equal(6, Assert.Single(await TestBroker.WorkersAsync(client, fast)).Capacity);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1_000_001)]
    public async Task A_negative_or_too_large_prefetch_is_refused_when_mapped(int prefetch)
    {
        await using var worker = new CourierWorker(TestBroker.WorkerOptions("tcp://127.0.0.1:5555", "w"));
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => worker.Map("echo", TestBroker.Tagged("x"), prefetch: prefetch));
        Assert.Equal("prefetch", error.ParamName);
    }

    [Theory]
    [InlineData(0, null)]
    [InlineData(int.MaxValue, null)]
    [InlineData(999_901, null)] // with the default prefetch of 100, one past the bound
    [InlineData(600_000, 600_000)]
    public async Task A_concurrency_that_would_declare_past_the_bound_is_refused_when_mapped(int concurrency, int? prefetch)
    {
        await using var worker = new CourierWorker(TestBroker.WorkerOptions("tcp://127.0.0.1:5555", "w") with { Prefetch = 100 });
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => worker.Map("echo", TestBroker.Tagged("x"), concurrency, prefetch: prefetch));
        Assert.Equal("concurrency", error.ParamName);
        worker.Map("echo", TestBroker.Tagged("x"), 999_900); // at the bound: 999,900 running and 100 waiting
    }

    /// <summary>A broker, a client, and one worker of <see cref="Service"/> whose handlers wait at <see cref="Gate"/>.</summary>
    private sealed class Stage : IAsyncDisposable
    {
        private Stage(string service, CourierBroker broker, SemaphoreSlim gate, Gated gated, CourierWorker worker, CourierClient client)
            => (Service, Broker, Gate, Gated, Worker, Client) = (service, broker, gate, gated, worker, client);

        public string Service { get; }

        public CourierBroker Broker { get; }

        public SemaphoreSlim Gate { get; }

        public Gated Gated { get; }

        public CourierWorker Worker { get; }

        public CourierClient Client { get; }

        public static async Task<Stage> StartAsync(string service, int concurrency, int prefetch, int retries = 0)
        {
            var broker = await TestBroker.StartAsync();
            var gate = new SemaphoreSlim(0);
            var gated = new Gated(gate);
            var worker = await TestBroker.StartWorkerAsync(
                broker.Endpoint!, "w", service: service, concurrency: concurrency, configure: o => o with { Prefetch = prefetch }, handler: gated.Handle);
            var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(60), Retries = retries });
            await TestBroker.WaitForWorkersAsync(client, service, 1);
            return new Stage(service, broker, gate, gated, worker, client);
        }

        /// <summary>Sends <paramref name="body"/> and waits until its handler runs (it waits at the gate).</summary>
        public async Task<Task<CourierReply>> RunningAsync(string body)
        {
            var request = Client.RequestAsync(Service, body);
            await Poll.UntilAsync(() => Gated.Started == 1, what: "the first handler running");
            return request;
        }

        /// <summary>Until the broker counts the one worker's <paramref name="capacity"/> and requests <paramref name="outstanding"/> at it.</summary>
        public Task AtWorkerAsync(int capacity, int outstanding, string what)
            => Poll.UntilAsync(
                async () => (await TestBroker.WorkersAsync(Client, Service)) is [var worker] && (worker.Capacity, worker.Outstanding) == (capacity, outstanding),
                TimeSpan.FromSeconds(30),
                what);

        /// <summary>
        /// Lets <paramref name="first"/> finish, then serves one more request: the place a withdrawn or expired request
        /// waited for went to that one, and its handler never ran.
        /// </summary>
        public async Task ServedAfterAsync(Task<CourierReply> first)
        {
            Gate.Release(1);
            Assert.Equal("first", (await first.WaitAsync(TimeSpan.FromSeconds(30))).BodyText);
            Gate.Release(1);
            Assert.Equal("next", (await Client.RequestAsync(Service, "next").WaitAsync(TimeSpan.FromSeconds(30))).BodyText);
            Assert.Equal(["first", "next"], Gated.Bodies);
        }

        public async ValueTask DisposeAsync()
        {
            await Client.DisposeAsync();
            await Worker.DisposeAsync();
            await Broker.DisposeAsync();
            Gate.Dispose();
        }
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
