using Courier.Server;
using Courier.Tests.Infrastructure;
using Courier.Transport;
using Courier.Transport.Internal;
using Courier.Transport.Internal.Native;

namespace Courier.Tests.Integration;

/// <summary>
/// Large frames (8 KiB or more) stay in libzmq's buffers, outside the GC's reach: an owner that stops with requests it
/// will never answer gives them back, or they stay until the process exits. Each test counts the native frames alive
/// (process-wide), so the collection runs alone.
/// </summary>
[Collection(NativeMemoryTests.Name)]
public sealed class StoppedOwnerMemoryTests
{
    private const int Large = 64 * 1024;
    [SkippableFact]
    public async Task A_broker_stopped_with_large_requests_queued_and_at_a_worker_gives_their_bodies_back()
    {
        Skip.If(TestTransport.IsManaged, "NetMQ hands over no native frames: its bodies are managed arrays the GC collects");
        var before = NativeFrame.Live;
        var held = new TaskCompletionSource();
        var broker = await TestBroker.StartAsync();
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(30), Retries = 0 });
        await using (var worker = await TestBroker.StartWorkerAsync(
            broker.Endpoint!, "holder", concurrency: 2, handler: async (r, ct) => { await held.Task.WaitAsync(ct); return r.Frames; }))
        {
            await TestBroker.WaitForWorkersAsync(client, "echo", 1);

            // Two run at the worker (the broker holds them as outstanding), four wait in the echo queue, three in a queue
            // nobody serves yet.
            var pending = Enumerable.Range(0, 6).Select(_ => client.RequestAsync("echo", new byte[Large]))
                .Concat(Enumerable.Range(0, 3).Select(_ => client.RequestAsync("nobody", new byte[Large]))).ToArray();
            await Poll.UntilAsync(
                async () => await TestBroker.StatsAsync(client, "echo") is var echo && echo.InFlight == 2 && echo.Queued == 4
                    && (await TestBroker.StatsAsync(client, "nobody")).Queued == 3,
                what: "two requests at the worker, seven queued");
            Assert.True(NativeFrame.Live - before >= 9, $"{NativeFrame.Live - before} native frames held by the broker and the worker, expected at least 9");

            await broker.DisposeAsync();
            held.TrySetResult();
            _ = pending; // answered by nobody: the broker is gone
        }

        await Poll.UntilAsync(() => NativeFrame.Live <= before, what: $"the native frames given back ({NativeFrame.Live - before} left)");
    }

    [SkippableFact]
    public async Task A_worker_stopped_with_large_requests_waiting_for_a_handler_gives_their_bodies_back()
    {
        Skip.If(TestTransport.IsManaged, "NetMQ hands over no native frames: its bodies are managed arrays the GC collects");
        var before = NativeFrame.Live;
        var broker = await TestBroker.StartAsync();
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(30), Retries = 0 });
        var worker = await TestBroker.StartWorkerAsync(
            broker.Endpoint!, "holder", concurrency: 2, configure: o => o with { Prefetch = 2, DrainTimeout = TimeSpan.FromMilliseconds(200) },
            handler: async (r, ct) => { await Task.Delay(Timeout.Infinite, ct); return r.Frames; });
        await TestBroker.WaitForWorkersAsync(client, "echo", 1);

        // Two run at the worker and two wait there for a handler.
        var pending = Enumerable.Range(0, 4).Select(_ => client.RequestAsync("echo", new byte[Large])).ToArray();
        await Poll.UntilAsync(async () => (await TestBroker.WorkersAsync(client, "echo")) is [(_, _, 4, 4)], what: "four requests at the worker");

        // Stopping, it hands the waiting ones back and cancels the running ones; then the broker goes too.
        await worker.DisposeAsync();
        await broker.DisposeAsync();
        _ = pending;

        await Poll.UntilAsync(() => NativeFrame.Live <= before, what: $"the native frames given back ({NativeFrame.Live - before} left)");
    }

    [SkippableFact]
    public async Task A_server_stopped_while_its_handlers_run_gives_their_large_bodies_back_when_they_finish_not_before()
    {
        Skip.If(TestTransport.IsManaged, "NetMQ hands over no native frames: its bodies are managed arrays the GC collects");
        var before = NativeFrame.Live;
        var running = 0;
        var release = new TaskCompletionSource();
        var read = new List<bool>();
        var server = await TestServer.StartAsync(
            o => o with { MaxConcurrency = 2, DrainTimeout = TimeSpan.FromMilliseconds(100) },
            s => s.Map("hold", async (r, _) =>
            {
                Interlocked.Increment(ref running);
                await release.Task; // deaf to the stop's cancellation: it runs on past its server's loop
                lock (read)
                {
                    read.Add(r.Body.Span.IndexOfAnyExcept((byte)7) < 0); // still readable: nobody freed it under the handler
                }

                return r.Frames;
            }));
        await using var client = TestServer.Client(server.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(30), Retries = 0 });
        var body = Enumerable.Repeat((byte)7, Large).ToArray();

        // Two run, three wait for a slot.
        var pending = Enumerable.Range(0, 5).Select(_ => client.RequestAsync("hold", body)).ToArray();
        await Poll.UntilAsync(() => Volatile.Read(ref running) == 2 && NativeFrame.Live - before >= 5, what: "two handlers running, five bodies held");

        await server.DisposeAsync();
        Assert.True(NativeFrame.Live - before >= 2, "the running handlers' bodies were freed under them");
        release.TrySetResult();

        await Poll.UntilAsync(() => NativeFrame.Live <= before, what: $"the native frames given back ({NativeFrame.Live - before} left)");
        lock (read)
        {
            Assert.Equal([true, true], read);
        }

        _ = pending;
    }
}

/// <summary>Tests that count process-wide native memory: run after the others, alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class NativeMemoryTests
{
    public const string Name = "native memory";
}
