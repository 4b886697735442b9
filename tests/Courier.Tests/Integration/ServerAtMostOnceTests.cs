using System.Text;
using Courier.Server;
using Courier.Tests.Infrastructure;
using NetMQ;
using NetMQ.Sockets;
using static Courier.Tests.Infrastructure.RawCourier5;

namespace Courier.Tests.Integration;

/// <summary>
/// At-most-once on a server (courier/5, docs/protocol.md §8): repeated attempts of one request (same client identity and
/// request id, whatever connection) join the run in progress or get the remembered reply; an idempotent service runs again.
/// </summary>
public sealed class ServerAtMostOnceTests
{
    [Theory]
    [InlineData(false, 1)]
    [InlineData(true, 2)]
    public async Task Repeated_attempts_join_the_run_in_progress_and_get_its_remembered_reply_unless_the_service_is_idempotent(bool idempotent, int expectedRuns)
    {
        var runs = 0;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(map: s => s.Map("pay", async (request, _) =>
        {
            var run = Interlocked.Increment(ref runs);
            await release.Task;
            return CourierBody.Text($"paid {request.BodyText} (run {run})");
        }, idempotent));

        // Two attempts on two connections (a client that reconnected), the first still running when the second comes.
        using var first = TestDealer.Connect(server.Endpoint!);
        using var secondSocket = TestDealer.Connect(server.Endpoint!);
        Send(first, 42, "10 EUR");
        await Poll.UntilAsync(() => Volatile.Read(ref runs) == 1, what: "the first attempt running");
        Send(secondSocket, 42, "10 EUR");

        // The second attempt joins the run in progress, or (idempotent, if it came after the answer) runs again.
        release.SetResult();
        var second = Receive(secondSocket);
        var secondRun = idempotent && second.Body.EndsWith("(run 2)", StringComparison.Ordinal) ? 2 : 1;
        Assert.Equal(("200", $"paid 10 EUR (run {secondRun})"), second);

        // A third attempt, after the answer: the remembered reply, or, idempotent, another run (nothing is remembered).
        using var third = TestDealer.Connect(server.Endpoint!);
        Send(third, 42, "10 EUR");
        Assert.Equal(("200", $"paid 10 EUR (run {(idempotent ? secondRun + 1 : 1)})"), Receive(third));
        Assert.Equal(idempotent ? secondRun + 1 : expectedRuns, Volatile.Read(ref runs));
    }

    [Fact]
    public async Task A_request_whose_handler_ran_until_its_caller_cancelled_does_not_run_again_on_a_repeat()
    {
        var runs = 0;
        await using var server = await TestServer.StartAsync(map: s => s.Map("pay", async (request, cancellationToken) =>
        {
            Interlocked.Increment(ref runs);
            await Task.Delay(Timeout.Infinite, cancellationToken); // its effects happen, then it stops on the token
            return CourierBody.Text("never");
        }));

        using var socket = TestDealer.Connect(server.Endpoint!);
        Send(socket, 42, "10 EUR");
        await Poll.UntilAsync(() => Volatile.Read(ref runs) == 1, what: "the handler running");
        SendCancel(socket, 42);
        Assert.Equal("504", Receive(socket).Status); // the answer that frees its place: nobody waits for it

        // A resend that crossed the CANCEL: the 504 of the run that was, not a second run.
        Send(socket, 42, "10 EUR");
        Assert.Equal("504", Receive(socket).Status);
        Assert.Equal(1, Volatile.Read(ref runs));
    }

    [Fact]
    public async Task A_repeat_that_reaches_a_stopping_server_joins_its_run_and_is_not_refused()
    {
        // A 503 says "never ran", so the client would send the request elsewhere and run it twice: a repeat of a run in
        // progress joins it, whatever the server's state.
        var runs = 0;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(
            o => o with { DrainTimeout = TimeSpan.FromSeconds(30) },
            s =>
            {
                s.Map("pay", async (request, _) =>
                {
                    var run = Interlocked.Increment(ref runs);
                    await release.Task;
                    return CourierBody.Text($"paid {request.BodyText} (run {run})");
                });
                s.Map("ping", (_, _) => ValueTask.FromResult(CourierBody.Text("pong")));
            });

        using var first = TestDealer.Connect(server.Endpoint!);
        Send(first, 42, "10 EUR");
        await Poll.UntilAsync(() => Volatile.Read(ref runs) == 1, what: "the first attempt running");

        // Connected before the stop: a stopping server takes no new connections.
        using var probe = TestDealer.Connect(server.Endpoint!);
        using var again = TestDealer.Connect(server.Endpoint!);
        var id = 100UL;
        Send(probe, ++id, "?", "ping");
        Assert.Equal("200", Receive(probe).Status);
        Send(again, ++id, "?", "ping");
        Assert.Equal("200", Receive(again).Status);

        // Once new requests are refused, the server is draining.
        var stopping = server.StopAsync();
        var frames = new List<byte[]>();
        await Poll.UntilAsync(() =>
        {
            // A ping unanswered within a while is sent again (seen once on the managed transport under CI load): what
            // this test asserts is the repeat below.
            Send(probe, ++id, "?", "ping");
            return probe.TryReceiveMultipartBytes(TimeSpan.FromSeconds(3), ref frames!) && RawCourier5.IdAndStatus(frames[1]).Status == "503";
        }, TimeSpan.FromSeconds(60), "the server refusing new requests");

        Send(again, 42, "10 EUR");
        // Released only once the server has read the repeat (a connection's messages are read in order: a ping sent after
        // it answered): released earlier, the run could end and the drained server close before it reads the repeat.
        Send(again, ++id, "?", "ping");
        Assert.Equal("503", Receive(again).Status);
        release.SetResult();
        Assert.Equal(("200", "paid 10 EUR (run 1)"), Receive(again));
        Assert.Equal(1, Volatile.Read(ref runs));
        await stopping;
    }

    [Fact]
    public async Task A_request_still_waiting_for_a_handler_when_a_stops_drain_runs_out_is_answered_503_and_never_runs()
    {
        var runs = new List<string>();
        await using var server = await TestServer.StartAsync(
            o => o with { MaxConcurrency = 1, DrainTimeout = TimeSpan.FromMilliseconds(300) },
            s => s.Map("pay", async (request, token) =>
            {
                lock (runs)
                {
                    runs.Add(request.BodyText);
                }

                await Task.Delay(Timeout.Infinite, token); // outlives the drain: cancelled by the stop
                return CourierBody.Text("never");
            }));

        using var socket = TestDealer.Connect(server.Endpoint!);
        Send(socket, 1, "running");
        await Poll.UntilAsync(() => { lock (runs) { return runs.Count == 1; } }, what: "the first request holding the one handler");
        Send(socket, 2, "waiting");
        // A connection's messages are read in order: once an 8/MMI query sent after it is answered, it waits in the queue.
        Send(socket, 3, "pay", "mmi.service");
        Assert.Equal("200", Receive(socket).Status);
        await server.StopAsync();

        var statuses = new Dictionary<ulong, string>();
        for (var i = 0; i < 2; i++)
        {
            var frames = new List<byte[]>();
            Assert.True(socket.TryReceiveMultipartBytes(TimeSpan.FromSeconds(20), ref frames!));
            var (id, status) = RawCourier5.IdAndStatus(frames[1]);
            statuses[id] = status;
        }

        Assert.Equal("520", statuses[1]); // it ran, and was cut short: nobody can say what it did
        Assert.Equal("503", statuses[2]); // it never ran: the client may send it anywhere
        lock (runs)
        {
            Assert.Equal(["running"], runs);
        }
    }
}
