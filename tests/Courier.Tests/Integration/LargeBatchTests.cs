using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text;
using Courier.Protocol.Internal;
using Courier.Server;
using Courier.Tests.Infrastructure;
using Courier.Transport;
using Courier.Worker;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Integration;

/// <summary>
/// courier/7's larger batches (docs/protocol.md §6), each side seen from a raw peer: a batch over 64 KiB holds no record
/// behind another, and only a peer that agreed on courier/7 is sent one.
/// </summary>
public sealed class LargeBatchTests
{
    private const int Large = 16 * 1024;
    private const int Small = 7 * 1024;
    private const int Records = 12;
    private const byte LargeReplies = 0x02; // courier/7's flag: the client takes reply batches over 64 KiB // 12 × 16 KiB: past courier/3's 64 KiB, within courier/7's 256 KiB
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData(LargeReplies, true, Large)]
    [InlineData(0, false, Small)]
    public async Task A_server_holds_each_body_of_a_batch_over_64_KiB_alone_and_answers_in_batches_as_large_only_as_the_client_takes(byte flags, bool largeReplies, int size)
    {
        var held = new ConcurrentBag<(int Offset, int Length)>();
        await using var server = await TestServer.StartAsync(
            o => o with { RunHandlersInline = true }, // all answered in one turn: one flush packs them all
            s => s.Map("echo", (request, _) =>
            {
                held.Add(ArrayOf(request.Frames[0]));
                return ValueTask.FromResult(request.Frames);
            }));
        using var client = TestDealer.Connect(server.Endpoint!);

        var bodies = Bodies(size);
        client.SendMoreFrameEmpty().SendFrame(BatchFrames.BuildClient5(flags, bodies.Select(p => (p.Key, "echo", p.Value))));

        var (replies, largest) = await Task.Run(() => ReceiveClientReplies(client, Records));
        Assert.Equal(bodies.Select(p => (p.Key, "200", p.Value)).Order(), replies.Order());
        // Each body is an array of its own: none of them keeps the frame (past 64 KiB) alive while it runs.
        Assert.Equal(Enumerable.Repeat((0, size), Records), held);
        AssertLargest(largest, largeReplies);
    }

    [Theory]
    [InlineData("courier/7", true, Large)]
    [InlineData("courier/6", false, Small)]
    public async Task A_worker_holds_each_body_of_a_batch_over_64_KiB_alone_and_replies_in_batches_as_large_only_to_a_courier7_broker(string version, bool largeReplies, int size)
    {
        using var broker = new RouterSocket();
        broker.Options.Linger = TimeSpan.Zero;
        var port = broker.BindRandomPort("tcp://127.0.0.1");
        var held = new ConcurrentBag<(int Offset, int Length)>();
        var options = TestBroker.WorkerOptions($"tcp://127.0.0.1:{port}", "large") with
        {
            Service = "echo",
            Concurrency = Records,
            RunHandlersInline = true,
            HeartbeatInterval = Wait, // the raw broker never heartbeats
            Transport = new TransportOptions { HeartbeatInterval = TimeSpan.Zero },
        };
        await using var worker = new CourierWorker(options, (request, _) =>
        {
            held.Add(ArrayOf(request.Frames[0]));
            return ValueTask.FromResult(request.Frames);
        });
        await worker.StartAsync();
        var (identity, _, ready) = RawBroker.Register(broker, version, Wait);
        Assert.StartsWith($"{version} capacity=", Encoding.ASCII.GetString(ready[^1]), StringComparison.Ordinal);

        var bodies = Bodies(size);
        broker.SendMoreFrame(identity).SendFrame(BatchFrames.Build(Batch.WorkerRequest, bodies.Select(p => (p.Key, "echo", p.Value))));

        var replies = new List<(ulong, string, string)>();
        var largest = 0;
        var frames = new List<byte[]>();
        while (replies.Count < Records)
        {
            Assert.True(broker.TryReceiveMultipartBytes(Wait, ref frames!), $"only {replies.Count} replies");
            if (BatchFrames.Is(frames[1], Batch.WorkerReply))
            {
                largest = Math.Max(largest, frames[1].Length);
                replies.AddRange(BatchFrames.Parse(frames[1]));
            }
            else if (CourierWorkerFrame.Is(frames[1], MdpWorker.Reply, CourierWorkerFrame.ReplyLength))
            {
                replies.Add((System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(frames[1].AsSpan(7)), Encoding.ASCII.GetString(frames[1], 15, 3), Encoding.UTF8.GetString(frames[2])));
            }
        }

        Assert.Equal(bodies.Select(p => (p.Key, "200", p.Value)).Order(), replies.Order());
        Assert.Equal(Enumerable.Repeat((0, size), Records), held);
        AssertLargest(largest, largeReplies);
    }

    [Theory]
    [InlineData("courier/7", true)]
    [InlineData("courier/6", false)]
    public async Task A_client_sends_batches_over_64_KiB_and_asks_for_large_replies_only_of_a_peer_that_agreed_on_courier7(string version, bool large)
    {
        using var server = RawServer.Bind(out var endpoint);
        await using var client = TestServer.Client(endpoint, o => o with { Timeout = TimeSpan.FromMinutes(1), Retries = 0 });
        var first = client.RequestAsync("echo", "first");
        var probe = RawServer.Next(server, RawServer.IsProtocolProbe, "the probe", Wait)!;
        RawServer.AnswerProbe(server, probe[0], version);

        // 6 KiB bodies: packed for either version, 40 of them past 64 KiB. How many the client's loop finds waiting in
        // one turn is up to the scheduler, so rounds go out until one batch could have been over 64 KiB.
        var kinds = new HashSet<byte>();
        var flags = new HashSet<byte>();
        var largest = 0;
        var pending = new List<Task>();
        var frames = new List<byte[]>();
        try
        {
            // Until a batch is seen, and for courier/7 one past 64 KiB.
            for (var round = 0; round < 20 && (kinds.Count == 0 || (large && largest <= Batch.MaxFrameLength)); round++)
            {
                pending.AddRange(Enumerable.Range(0, 40).Select(_ => client.RequestAsync("echo", new string('x', 6 * 1024))));
                var seen = 0;
                while (seen < 40)
                {
                    Assert.True(server.TryReceiveMultipartBytes(Wait, ref frames!), $"round {round}: only {seen} of 40 requests");
                    if (frames.Count == 3 && BatchFrames.IsAny(frames[2]))
                    {
                        kinds.Add(frames[2][6]);
                        largest = Math.Max(largest, frames[2].Length);
                        var metas = BatchFrames.RecordMetas(frames[2]);
                        flags.UnionWith(metas.Select(m => m[1]));
                        seen += metas.Count;
                    }
                    else if (frames.Count == 4 && frames[2].AsSpan().StartsWith("CURC0"u8))
                    {
                        seen++;
                    }
                }
            }

            Assert.Equal([Batch.ClientRequest5], kinds); // a kind every version reads: an older peer reached by a redial still can
            Assert.Equal([large ? LargeReplies : (byte)0], flags.Select(f => (byte)(f & LargeReplies)).ToHashSet()); // beside the other bits every record has
            Assert.InRange(largest, large ? Batch.MaxFrameLength + 1 : 1, large ? Batch.LargeMaxFrameLength : Batch.MaxFrameLength);
        }
        finally
        {
            await client.DisposeAsync();
            await Task.WhenAll([first, .. pending]).ContinueWith(_ => { }, TaskScheduler.Default); // unanswered: ended by the dispose
        }
    }

    [Theory]
    [InlineData("courier/7", true, Large)]
    [InlineData("courier/6", false, Small)]
    public async Task A_broker_sends_a_worker_batches_over_64_KiB_only_when_it_registered_with_courier7(string version, bool large, int size)
    {
        await using var broker = await TestBroker.StartAsync();
        await using var mmi = TestServer.Client(broker.Endpoint!);
        using var worker = await RawWorker.RegisterAsync(broker.Endpoint!, mmi, "echo", $"{version} capacity=100");
        using var client = TestDealer.Connect(broker.Endpoint!);

        var bodies = Bodies(size);
        client.SendMoreFrameEmpty().SendFrame(BatchFrames.BuildClient5(LargeReplies, bodies.Select(p => (p.Key, "echo", p.Value))));

        var largest = 0;
        var seen = 0;
        while (seen < Records)
        {
            var frames = worker.Receive(f => BatchFrames.IsAny(f[0]) || (f[0].AsSpan().StartsWith("CURW0"u8) && f[0][6] == MdpWorker.Request), $"request {seen + 1} of {Records}");
            if (BatchFrames.IsAny(frames[0]))
            {
                largest = Math.Max(largest, frames[0].Length);
                seen += BatchFrames.RecordMetas(frames[0]).Count;
            }
            else
            {
                seen++;
            }
        }

        AssertLargest(largest, large);
    }

    [Theory]
    [InlineData(256 * 1024, "courier/7")]
    [InlineData(128 * 1024, "courier/6")] // libzmq would drop the connection over a courier/7 batch
    public async Task A_server_whose_frames_are_bounded_below_a_courier7_batch_agrees_on_courier6_at_most(long maxFrameSize, string answer)
    {
        await using var server = await TestServer.StartAsync(o => o with { Transport = o.Transport with { MaxFrameSize = maxFrameSize } });
        using var client = TestDealer.Connect(server.Endpoint!);

        client.SendMoreFrameEmpty().SendMoreFrame("MDPC01").SendMoreFrame("mmi.courier").SendFrame("courier/7");
        var frames = new List<byte[]>();
        Assert.True(client.TryReceiveMultipartBytes(Wait, ref frames!), "no answer to the probe");
        Assert.Equal(["", "MDPC01", "mmi.courier", "200", answer], frames.Take(5).Select(Encoding.ASCII.GetString));
    }

    [Theory]
    [InlineData(256 * 1024, "courier/7")]
    [InlineData(128 * 1024, "courier/6")]
    public async Task A_client_whose_frames_are_bounded_below_a_courier7_batch_offers_courier6_at_most(long maxFrameSize, string offer)
    {
        using var server = RawServer.Bind(out var endpoint);
        await using var client = TestServer.Client(endpoint, o => o with { Transport = o.Transport with { MaxFrameSize = maxFrameSize } });
        var request = client.RequestAsync("echo", "x");

        var probe = RawServer.Next(server, RawServer.IsProtocolProbe, "the probe", Wait)!;
        Assert.Equal(offer, Encoding.ASCII.GetString(probe[4]));
        await client.DisposeAsync();
        await request.ContinueWith(_ => { }, TaskScheduler.Default); // unanswered: ended by the dispose
    }

    /// <summary><see cref="Records"/> bodies of <paramref name="size"/> bytes by id: 16 KiB ones are packed only under courier/7, 7 KiB ones for every version.</summary>
    private static Dictionary<ulong, string> Bodies(int size)
        => Enumerable.Range(1, Records).ToDictionary(i => (ulong)i, i => new string((char)('a' + i), size));

    /// <summary>
    /// The largest batch frame seen: past 64 KiB for a courier/7 peer; for another, some batch (12 × 7 KiB does not fit
    /// one of 64 KiB) and none past 64 KiB.
    /// </summary>
    private static void AssertLargest(int largest, bool large)
        => Assert.InRange(largest, large ? Batch.MaxFrameLength + 1 : 1, large ? Batch.LargeMaxFrameLength : Batch.MaxFrameLength);

    /// <summary>Where a body sits in the array behind it, and that array's length.</summary>
    private static (int Offset, int Length) ArrayOf(ReadOnlyMemory<byte> body)
    {
        Assert.True(MemoryMarshal.TryGetArray(body, out var segment), "a body not backed by an array");
        return (segment.Offset, segment.Array!.Length);
    }

    /// <summary><paramref name="count"/> replies as (id, status, body), batched or alone, and the largest batch frame among them.</summary>
    private static (List<(ulong, string, string)> Replies, int Largest) ReceiveClientReplies(DealerSocket client, int count)
    {
        var replies = new List<(ulong, string, string)>();
        var largest = 0;
        var frames = new List<byte[]>();
        while (replies.Count < count)
        {
            Assert.True(client.TryReceiveMultipartBytes(Wait, ref frames!), $"only {replies.Count} of {count} replies");
            if (BatchFrames.Is(frames[1], Batch.ClientReply))
            {
                largest = Math.Max(largest, frames[1].Length);
                replies.AddRange(BatchFrames.Parse(frames[1]));
            }
            else
            {
                replies.Add((System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(frames[1].AsSpan(6)), Encoding.ASCII.GetString(frames[1], 14, 3), Encoding.UTF8.GetString(frames[2])));
            }
        }

        return (replies, largest);
    }
}
