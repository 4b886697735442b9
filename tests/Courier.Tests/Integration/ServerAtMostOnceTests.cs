using System.Text;
using Courier.Server;
using Courier.Tests.Infrastructure;
using NetMQ;
using NetMQ.Sockets;

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
        using var first = Connect(server.Endpoint!);
        using var secondSocket = Connect(server.Endpoint!);
        Send(first, 42, "10 EUR");
        await Poll.UntilAsync(() => Volatile.Read(ref runs) == 1, what: "the first attempt running");
        Send(secondSocket, 42, "10 EUR");

        // The second attempt joins the run in progress, or (idempotent, if it came after the answer) runs again.
        release.SetResult();
        var second = Receive(secondSocket);
        var secondRun = idempotent && second.Body.EndsWith("(run 2)", StringComparison.Ordinal) ? 2 : 1;
        Assert.Equal(("200", $"paid 10 EUR (run {secondRun})"), second);

        // A third attempt, after the answer: the remembered reply, or, idempotent, another run (nothing is remembered).
        using var third = Connect(server.Endpoint!);
        Send(third, 42, "10 EUR");
        Assert.Equal(("200", $"paid 10 EUR (run {(idempotent ? secondRun + 1 : 1)})"), Receive(third));
        Assert.Equal(idempotent ? secondRun + 1 : expectedRuns, Volatile.Read(ref runs));
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

        using var first = Connect(server.Endpoint!);
        Send(first, 42, "10 EUR");
        await Poll.UntilAsync(() => Volatile.Read(ref runs) == 1, what: "the first attempt running");

        // Connected before the stop: a stopping server takes no new connections.
        using var probe = Connect(server.Endpoint!);
        using var again = Connect(server.Endpoint!);
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
            return probe.TryReceiveMultipartBytes(TimeSpan.FromSeconds(3), ref frames!) && Encoding.ASCII.GetString(frames[1], 14, 3) == "503";
        }, TimeSpan.FromSeconds(60), "the server refusing new requests");

        Send(again, 42, "10 EUR");
        release.SetResult();
        Assert.Equal(("200", "paid 10 EUR (run 1)"), Receive(again));
        Assert.Equal(1, Volatile.Read(ref runs));
        await stopping;
    }

    private static DealerSocket Connect(string endpoint)
    {
        var socket = new DealerSocket();
        socket.Options.Linger = TimeSpan.Zero;
        socket.Connect(endpoint);
        return socket;
    }

    /// <summary>A courier/5 request of one fixed client identity, written from docs/protocol.md §8.</summary>
    private static void Send(DealerSocket socket, ulong id, string body, string service = "pay")
    {
        var frame = new byte[38 + service.Length];
        "CURC05"u8.CopyTo(frame);
        frame[6] = 0x01;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(7), id);
        frame.AsSpan(15, 16).Fill(0x77);
        frame[31] = 1;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(33), 30_000);
        frame[37] = (byte)service.Length;
        Encoding.ASCII.GetBytes(service).CopyTo(frame.AsSpan(38));
        socket.SendMoreFrameEmpty().SendMoreFrame(frame).SendFrame(body);
    }

    private static (string Status, string Body) Receive(DealerSocket socket)
    {
        var frames = new List<byte[]>();
        Assert.True(socket.TryReceiveMultipartBytes(TimeSpan.FromSeconds(20), ref frames!));
        return (Encoding.ASCII.GetString(frames[1], 14, 3), Encoding.UTF8.GetString(frames[2]));
    }
}
