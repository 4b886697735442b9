using System.Buffers.Binary;
using Courier.Broker;
using Courier.Client;
using Courier.Protocol;
using Courier.Server;
using Courier.Tests.Infrastructure;
using Courier.Transport;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Integration;

/// <summary>
/// libzmq bounds a frame's size, never how many frames a message has, and holds every frame in a 64-byte slot however
/// small: a message of empty frames costs 32 times its wire bytes in libzmq, and more again in every copy made of it.
/// Messages past <see cref="TransportOptions.MaxFramesPerMessage"/> are dropped whole; bodies that fit are counted for
/// their frames where bytes are bounded (a client that never reads its replies).
/// </summary>
public sealed class FrameCountBoundTests
{
    private const int Max = 1024; // TransportOptions.MaxFramesPerMessage's default

    [Fact]
    public async Task Server_drops_a_message_of_more_frames_than_a_message_may_have_and_serves_the_same_peer_on()
    {
        var logs = new RecordingLoggerFactory();
        await using var server = await TestServer.StartAsync(o => o with { LoggerFactory = logs });
        await using var canary = await Canary.StartAsync(server.Endpoint!);

        await SendTooManyFramesThenAskAsync(server.Endpoint!, logs);

        await canary.AssertUnharmedAsync();
    }

    [Fact]
    public async Task Broker_drops_a_message_of_more_frames_than_a_message_may_have_and_serves_the_same_peer_on()
    {
        var logs = new RecordingLoggerFactory();
        await using var broker = await TestBroker.StartAsync(o => o with { LoggerFactory = logs });
        await using var worker = await TestBroker.StartWorkerAsync(broker.Endpoint!, "w1", handler: CourierServices.Echo);
        await using var canary = await Canary.StartAsync(broker.Endpoint!);

        await SendTooManyFramesThenAskAsync(broker.Endpoint!, logs);

        await canary.AssertUnharmedAsync();
    }

    [Fact]
    public async Task A_request_body_of_more_frames_than_a_body_may_have_is_answered_413()
    {
        await using var server = await TestServer.StartAsync();
        using var attacker = RawCourier2.NonReader(server.Endpoint!);

        // One frame under what a message may have, envelope and header included: the message is taken, the body is not.
        attacker.SendMoreFrameEmpty().SendMoreFrame(RawCourier2.Header(1));
        SendEmptyFrames(attacker, Max - 3);

        var reply = attacker.ReceiveMultipartMessage();
        Assert.Equal(CourierStatus.TooLarge, CourierFrame(reply).Status);
        Assert.Contains($"{Max - 3} frames exceeds the limit of {Max - TransportOptions.ReservedFrames}", reply.Last.ConvertToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_refuses_a_body_of_more_frames_than_a_body_may_have_before_sending_it()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = TestServer.Client(server.Endpoint!);
        var frames = Enumerable.Repeat(ReadOnlyMemory<byte>.Empty, Max - TransportOptions.ReservedFrames + 1).ToArray();

        var error = await Assert.ThrowsAsync<ArgumentException>(() => client.RequestAsync("echo", frames));
        Assert.Contains("MaxFramesPerMessage", error.Message, StringComparison.Ordinal);

        // The most a body may have goes through, both ways.
        var reply = await client.RequestAsync("echo", frames[1..]);
        Assert.Equal(frames.Length - 1, reply.Frames.Count);
    }

    [Fact]
    public async Task The_largest_body_goes_through_a_broker_to_a_worker_and_back()
    {
        // The broker adds the client's envelope and its worker protocol's frames: the 32 kept frames are room for them.
        await using var broker = await TestBroker.StartAsync();
        await using var worker = await TestBroker.StartWorkerAsync(broker.Endpoint!, "w1", handler: CourierServices.Echo);
        await using var client = TestServer.Client(broker.Endpoint!);
        var frames = Enumerable.Range(0, Max - TransportOptions.ReservedFrames).Select(i => (ReadOnlyMemory<byte>)BitConverter.GetBytes(i)).ToArray();

        var reply = await client.RequestAsync("echo", frames);

        Assert.Equal(frames.Length, reply.Frames.Count);
        Assert.Equal(frames.Length - 1, BitConverter.ToInt32(reply.Frames[^1].Span));
    }

    [Fact]
    public async Task A_stock_workers_reply_of_more_frames_than_a_reply_may_have_is_answered_500_by_the_broker()
    {
        await using var broker = await TestBroker.StartAsync();
        await using var client = TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(20), Retries = 0 });
        using var worker = TestDealer.Connect(broker.Endpoint!);
        worker.SendMoreFrameEmpty().SendMoreFrame("MDPW01").SendMoreFrame([Courier.Protocol.Internal.MdpWorker.Ready]).SendFrame("wide");
        await TestBroker.WaitForWorkersAsync(client, "wide", 1);

        var asked = client.RequestAsync("wide", "x");

        // A 7/MDP worker of another make: it answers with 1,000 frames, which fit a message but not a reply's body.
        var frames = new List<byte[]>();
        do
        {
            Assert.True(worker.TryReceiveMultipartBytes(TimeSpan.FromSeconds(20), ref frames!), "the worker got no request");
        }
        while (frames[2][0] != Courier.Protocol.Internal.MdpWorker.Request);

        var delimiter = frames.FindIndex(3, f => f.Length == 0);
        var reply = worker.SendMoreFrameEmpty().SendMoreFrame("MDPW01").SendMoreFrame([Courier.Protocol.Internal.MdpWorker.Reply]);
        foreach (var hop in frames.GetRange(3, delimiter - 3))
        {
            reply = reply.SendMoreFrame(hop);
        }

        reply.SendMoreFrameEmpty();
        SendEmptyFrames(worker, 1000);

        var error = await Assert.ThrowsAsync<CourierRemoteException>(() => asked);
        Assert.Equal(CourierStatus.ServerError, error.StatusCode);
        Assert.Contains($"the worker's reply has 1000 frames, more than the {Max - TransportOptions.ReservedFrames}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_handler_reply_of_more_frames_than_a_reply_may_have_is_answered_500_not_lost()
    {
        await using var server = await TestServer.StartAsync(map: s => s.Map("many", (_, _) =>
            ValueTask.FromResult<IReadOnlyList<ReadOnlyMemory<byte>>>(Enumerable.Repeat(ReadOnlyMemory<byte>.Empty, Max + 100).ToArray())));
        // Sent, such a reply would be dropped by the client's transport: only a timeout would tell.
        await using var client = TestServer.Client(server.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(20), Retries = 0 });

        var error = await Assert.ThrowsAsync<CourierRemoteException>(() => client.RequestAsync("many", "x"));
        Assert.Equal(CourierStatus.ServerError, error.StatusCode);
        Assert.Contains($"reply of {Max + 100} frames exceeds the limit of {Max - TransportOptions.ReservedFrames}", error.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Server_counts_the_frames_of_replies_a_client_never_reads_against_its_budget()
    {
        Skip.If(TestTransport.IsManaged, ManagedUncounted);
        var logs = new RecordingLoggerFactory();
        await using var server = await TestServer.StartAsync(o => o with { LoggerFactory = logs, Transport = TransportOptions.Default with { MaxPendingBytesPerPeer = Budget } });
        await using var canary = await Canary.StartAsync(server.Endpoint!);

        await AskForManyFrameEchoesAndNeverReadAsync(server.Endpoint!, logs, server.LargestPendingBytesAsync);

        await canary.AssertUnharmedAsync();
    }

    [SkippableFact]
    public async Task Broker_counts_the_frames_of_replies_a_client_never_reads_against_its_budget()
    {
        Skip.If(TestTransport.IsManaged, ManagedUncounted);
        var logs = new RecordingLoggerFactory();
        await using var broker = await TestBroker.StartAsync(o => o with { LoggerFactory = logs, Transport = TransportOptions.Default with { MaxPendingBytesPerPeer = Budget } });
        await using var worker = await TestBroker.StartWorkerAsync(broker.Endpoint!, "w1", handler: CourierServices.Echo, concurrency: 100);
        await using var canary = await Canary.StartAsync(broker.Endpoint!);

        await AskForManyFrameEchoesAndNeverReadAsync(broker.Endpoint!, logs, broker.LargestPendingBytesAsync);

        await canary.AssertUnharmedAsync();
    }

    private const long Budget = 1024 * 1024;

    private const string ManagedUncounted =
        "NetMQ counts a message by its last frame's pooled buffer, which an empty frame has not: such messages are bounded by the high-water mark and the frames a message may have only (docs/guide.md)";

    // Echoes of 900 empty frames: 1.8 KB on the wire each way, 57.6 KB in libzmq's queue. Sent until replies are refused
    // (the kernel's buffers between server and attacker absorb a few MB first), up to 40,000 of them.
    private const int EchoFrames = 900;
    private const int MaxEchoes = 40_000;

    /// <summary>
    /// A raw DEALER that reads nothing asks for echoes of many empty frames: each reply is a few bytes, and was not
    /// counted against the budget (under 1 KiB) while libzmq held 64 bytes for each of its frames. Now it is: replies past
    /// the budget are refused, counted and logged, and the count returns to zero once the attacker leaves.
    /// </summary>
    private static async Task AskForManyFrameEchoesAndNeverReadAsync(string endpoint, RecordingLoggerFactory logs, Func<Task<long>> largestPending)
    {
        // What may pass the budget: one message, whose frames count 64 bytes each.
        const long Bound = Budget + ((EchoFrames + 8) * 64) + 1024;
        long largest = 0;
        using (var attacker = RawCourier2.NonReader(endpoint))
        {
            var sent = 0;
            await Poll.UntilAsync(
                async () =>
                {
                    for (var i = 0; i < 500 && sent < MaxEchoes; i++)
                    {
                        attacker.SendMoreFrameEmpty().SendMoreFrame(RawCourier2.Header((ulong)++sent));
                        SendEmptyFrames(attacker, EchoFrames);
                    }

                    largest = Math.Max(largest, await largestPending());
                    return largest > Bound || Refusals(logs) >= 5;
                },
                TimeSpan.FromSeconds(90),
                "replies refused for the client's unread bytes");

            Assert.True(largest <= Bound, $"{largest} bytes pending for one peer, over the bound of {Bound}");
            Assert.True(Refusals(logs) >= 5, $"no replies refused for the client's unread bytes (largest pending seen: {largest})");
        }

        await Poll.UntilAsync(async () => await largestPending() == 0, TimeSpan.FromSeconds(30), "the attacker's pending bytes released once it left");
    }

    private static int Refusals(RecordingLoggerFactory logs) => logs.Messages.Count(m => m.Contains("of replies it has not read", StringComparison.Ordinal));

    private static async Task SendTooManyFramesThenAskAsync(string endpoint, RecordingLoggerFactory logs)
    {
        using var attacker = RawCourier2.NonReader(endpoint);
        attacker.Options.ReceiveHighWatermark = 1000;

        // One frame past the limit: a body of Max - 2 frames, its delimiter and header, and the routing id the listener adds.
        attacker.SendMoreFrameEmpty().SendMoreFrame(RawCourier2.Header(1));
        SendEmptyFrames(attacker, Max - 2);
        // Then a proper one on the same connection: answered, so the dropped message left nothing behind (its frames
        // would otherwise have been read as the start of this one).
        attacker.SendMoreFrameEmpty().SendMoreFrame(RawCourier2.Header(2)).SendFrame("after"u8.ToArray());

        NetMQMessage? reply = null;
        Assert.True(attacker.TryReceiveMultipartMessage(TimeSpan.FromSeconds(30), ref reply), "no answer to the request after the dropped one");
        var frame = CourierFrame(reply!);
        Assert.Equal(2UL, frame.Id);
        Assert.Equal(CourierStatus.Ok, frame.Status);
        Assert.Equal("after", reply!.Last.ConvertToString());
        NetMQMessage? more = null;
        Assert.False(attacker.TryReceiveMultipartMessage(TimeSpan.FromMilliseconds(500), ref more), "the dropped message was answered");

        await Poll.UntilAsync(
            () => Task.FromResult(logs.Messages.Any(m => m.Contains($"Dropped a message of {Max + 1} frames, more than the {Max}", StringComparison.Ordinal))),
            TimeSpan.FromSeconds(10),
            "the dropped message logged");
    }

    /// <summary>The reply's courier/2 header frame: after the delimiter, "CURC02", the id, the status in three ASCII digits.</summary>
    private static (ulong Id, int Status) CourierFrame(NetMQMessage reply)
    {
        var header = reply[1].Buffer;
        return (BinaryPrimitives.ReadUInt64BigEndian(header.AsSpan(6)), int.Parse(header.AsSpan(14, 3), System.Globalization.CultureInfo.InvariantCulture));
    }

    private static void SendEmptyFrames(DealerSocket socket, int count)
    {
        for (var i = 0; i < count - 1; i++)
        {
            socket.SendMoreFrameEmpty();
        }

        socket.SendFrameEmpty();
    }
}
