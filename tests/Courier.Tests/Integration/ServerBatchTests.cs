using System.Text;
using Courier.Protocol.Internal;
using Courier.Server;
using Courier.Tests.Infrastructure;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Integration;

/// <summary>A server's side of batches (docs/protocol.md §7), seen from a raw DEALER socket.</summary>
public sealed class ServerBatchTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_batch_of_requests_is_served_and_answered_in_one_batch_with_errors_apart(bool inline)
    {
        await using var server = await TestServer.StartAsync(
            o => o with { RunHandlersInline = inline },
            s => s.Map("upper", (request, _) => ValueTask.FromResult<IReadOnlyList<ReadOnlyMemory<byte>>>([Encoding.UTF8.GetBytes(request.BodyText.ToUpperInvariant())])));
        using var client = TestDealer.Connect(server.Endpoint!);

        var requests = Enumerable.Range(1, 16).Select(i => ((ulong)i, "upper", $"req {i}")).ToList();
        byte[] frame = [.. BatchFrames.Build(1, [.. requests, (100, "nosuch", "x"), (101, "bad\u0001name", "x"), (102, "mmi.courier", "courier/3")]), 9, 9];
        client.SendMoreFrameEmpty().SendFrame(frame);

        var seen = new Dictionary<ulong, (string Status, string Body)>();
        var batches = 0;
        var frames = new List<byte[]>();
        while (seen.Count < 19)
        {
            Assert.True(client.TryReceiveMultipartBytes(Wait, ref frames!), $"only {seen.Count} replies");
            Assert.Empty(frames[0]);
            if (BatchFrames.Is(frames[1], 2))
            {
                batches++;
                foreach (var reply in BatchFrames.Parse(frames[1]))
                {
                    seen.Add(reply.Id, (reply.Tag, reply.Body));
                }
            }
            else
            {
                Assert.Equal("CURC02", Encoding.ASCII.GetString(frames[1], 0, 6));
                seen.Add(System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(frames[1].AsSpan(6)), (Encoding.ASCII.GetString(frames[1], 14, 3), Encoding.UTF8.GetString(frames[2])));
            }
        }

        Assert.All(requests, r => Assert.Equal(("200", r.Item3.ToUpperInvariant()), seen[r.Item1]));
        Assert.Equal(("404", "no service 'nosuch' here"), seen[100]);
        Assert.Equal("400", seen[101].Status);
        Assert.Equal(("200", "courier/3"), seen[102]);
        if (inline)
        {
            Assert.Equal(1, batches); // answered before the loop sent anything: one batch
        }

        await using var courier = TestServer.Client(server.Endpoint!);
        Assert.Equal("STILL", (await courier.RequestAsync("upper", "still")).BodyText);
    }

    [Fact]
    public async Task A_batch_frame_past_the_batch_bound_serves_none_of_its_records_and_is_answered_400_as_a_stock_request()
    {
        // Its records' bodies would be slices of one copy of the frame, held while any of them waits: one small record
        // and 16 MiB of junk after it pinned 16 MiB per request that queues and counted as a few hundred bytes. No
        // Courier client sends one; a REQ client whose body starts so is told (one short answer, whatever the size).
        var logs = new RecordingLoggerFactory();
        await using var server = await TestServer.StartAsync(o => o with { LoggerFactory = logs });
        await using var canary = await Canary.StartAsync(server.Endpoint!);
        using var client = TestDealer.Connect(server.Endpoint!);

        byte[] frame = [.. BatchFrames.Build(1, [(7UL, "echo", "x")]), .. Enumerable.Repeat((byte)0xFF, Batch.LargeMaxFrameLength)];
        client.SendMoreFrameEmpty().SendFrame(frame);

        await Poll.UntilAsync(() => logs.Contains($"over the {Batch.LargeMaxFrameLength} a batch may be"), Wait, "the batch dropped as too large");
        var frames = new List<byte[]>();
        Assert.True(client.TryReceiveMultipartBytes(Wait, ref frames!), "the oversize batch was not answered");
        Assert.Equal(3, frames.Count);
        Assert.Empty(frames[0]);
        Assert.Equal("400", Encoding.ASCII.GetString(frames[1]));
        Assert.Contains($"over the {Batch.LargeMaxFrameLength} a batch may be", Encoding.UTF8.GetString(frames[2]), StringComparison.Ordinal);
        Assert.False(client.TryReceiveMultipartBytes(TimeSpan.FromMilliseconds(200), ref frames!), "a record of the oversize batch was answered");
        await canary.AssertUnharmedAsync();
    }

    [Fact]
    public async Task A_batch_whose_later_record_is_malformed_serves_those_before_it_and_is_not_also_answered_400()
    {
        var logs = new RecordingLoggerFactory();
        await using var server = await TestServer.StartAsync(o => o with { LoggerFactory = logs });
        using var client = TestDealer.Connect(server.Endpoint!);

        // Two readable records, then three bytes where the next record's 8-byte id should be.
        byte[] frame = [.. BatchFrames.Build(1, [(7UL, "echo", "a"), (8UL, "echo", "b")]), 0, 0, 0];
        client.SendMoreFrameEmpty().SendFrame(frame);

        var seen = await ReceiveRepliesAsync(client, 2);
        Assert.Equal([("200", "a"), ("200", "b")], seen.OrderBy(p => p.Key).Select(p => p.Value));
        await Poll.UntilAsync(() => logs.Contains("a batch with a malformed record"), Wait, "the malformed rest logged");
        var frames = new List<byte[]>();
        Assert.False(client.TryReceiveMultipartBytes(TimeSpan.FromMilliseconds(500), ref frames!), "the batch was also answered as a whole");
    }

    [Fact]
    public async Task A_batch_behind_an_envelope_its_replies_would_repeat_too_often_is_answered_400_once_and_not_served()
    {
        var ran = 0;
        await using var server = await TestServer.StartAsync(map: s => s.Map("counted", (request, _) =>
        {
            Interlocked.Increment(ref ran);
            return ValueTask.FromResult(request.Frames);
        }));
        await using var canary = await Canary.StartAsync(server.Endpoint!);
        using var client = TestDealer.Connect(server.Endpoint!);

        // 100 empty-bodied records behind a 255-byte hop: every reply would carry the hop, 100 times what was sent for it.
        var hop = Enumerable.Repeat((byte)'h', 255).ToArray();
        var records = Enumerable.Range(1, 100).Select(i => ((ulong)i, "counted", ""));
        client.SendMoreFrame(hop).SendMoreFrameEmpty().SendFrame(BatchFrames.Build(1, records));

        var frames = new List<byte[]>();
        Assert.True(client.TryReceiveMultipartBytes(Wait, ref frames!), "the batch was not answered");
        Assert.Equal(4, frames.Count);
        Assert.Equal(hop, frames[0]);
        Assert.Empty(frames[1]);
        Assert.Equal("400", Encoding.ASCII.GetString(frames[2]));
        Assert.Contains("their replies would repeat it", Encoding.UTF8.GetString(frames[3]), StringComparison.Ordinal);
        Assert.False(client.TryReceiveMultipartBytes(TimeSpan.FromMilliseconds(500), ref frames!), "a record was answered too");
        Assert.Equal(0, Volatile.Read(ref ran));
        await canary.AssertUnharmedAsync();
    }

    [Fact]
    public async Task A_batch_of_a_kind_no_client_sends_is_answered_400_not_served_as_a_plain_requests_body()
    {
        // A newer kind reaching this build (a client that reconnected to an older instance) must not run the default
        // service with the batch as its body; a stock REQ client whose body happens to start so is told why, as for any
        // request it cannot have served (docs/protocol.md §1, errors for clients without status frames).
        var ran = 0;
        await using var server = await TestServer.StartAsync(
            o => o with { DefaultService = "plain" },
            s => s.Map("plain", (request, _) =>
            {
                Interlocked.Increment(ref ran);
                return ValueTask.FromResult(request.Frames);
            }));
        await using var canary = await Canary.StartAsync(server.Endpoint!);
        using var client = TestDealer.Connect(server.Endpoint!);

        client.SendMoreFrameEmpty().SendFrame(BatchFrames.Build(0x0B, [(7UL, "plain", "x")]));

        var frames = new List<byte[]>();
        Assert.True(client.TryReceiveMultipartBytes(Wait, ref frames!), "the unknown batch was not answered");
        Assert.Equal(3, frames.Count);
        Assert.Empty(frames[0]);
        Assert.Equal("400", Encoding.ASCII.GetString(frames[1]));
        Assert.Contains("a batch of unknown kind 0x0B", Encoding.UTF8.GetString(frames[2]), StringComparison.Ordinal);
        Assert.Equal(0, Volatile.Read(ref ran));
        await canary.AssertUnharmedAsync();
    }

    [Fact]
    public async Task Requests_of_a_batch_past_the_servers_limits_are_answered_503_each_and_the_rest_are_served()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await TestServer.StartAsync(
            o => o with { MaxConcurrency = 1, MaxQueuedRequests = 2 },
            s => s.Map("held", async (request, _) =>
            {
                await release.Task;
                return [request.Frames[0]];
            }));
        using var client = TestDealer.Connect(server.Endpoint!);

        client.SendMoreFrameEmpty().SendFrame(BatchFrames.Build(1, Enumerable.Range(1, 6).Select(i => ((ulong)i, "held", $"r{i}"))));

        // One runs, two wait, three are refused at once.
        var seen = await ReceiveRepliesAsync(client, 3);
        Assert.Equal([4UL, 5UL, 6UL], seen.Keys.Order());
        Assert.All(seen.Values, v => Assert.Equal("503", v.Status));

        release.SetResult();
        seen = await ReceiveRepliesAsync(client, 3);
        Assert.Equal([("200", "r1"), ("200", "r2"), ("200", "r3")], seen.OrderBy(p => p.Key).Select(p => p.Value));
    }

    [Fact]
    public async Task Requests_of_a_batch_past_the_brokers_queue_limit_are_answered_503_each()
    {
        await using var broker = await TestBroker.StartAsync(o => o with { MaxQueuedPerService = 2 });
        using var client = TestDealer.Connect(broker.Endpoint!);

        // No worker: two requests queue, the other three are refused.
        client.SendMoreFrameEmpty().SendFrame(BatchFrames.Build(1, Enumerable.Range(1, 5).Select(i => ((ulong)i, "nobody", $"r{i}"))));
        var seen = await ReceiveRepliesAsync(client, 3);
        Assert.Equal([3UL, 4UL, 5UL], seen.Keys.Order());
        Assert.All(seen.Values, v => Assert.Equal("503", v.Status));

        // A worker that comes later serves the two that waited.
        await using var worker = await TestBroker.StartWorkerAsync(broker.Endpoint!, "late", service: "nobody", handler: (request, _) => ValueTask.FromResult<IReadOnlyList<ReadOnlyMemory<byte>>>(request.Frames));
        seen = await ReceiveRepliesAsync(client, 2);
        Assert.Equal([("200", "r1"), ("200", "r2")], seen.OrderBy(p => p.Key).Select(p => p.Value));
    }

    /// <summary>Collects <paramref name="count"/> replies, batched or not, by request id.</summary>
    private static Task<Dictionary<ulong, (string Status, string Body)>> ReceiveRepliesAsync(DealerSocket client, int count) => Task.Run(() =>
    {
        var seen = new Dictionary<ulong, (string Status, string Body)>();
        var frames = new List<byte[]>();
        while (seen.Count < count)
        {
            Assert.True(client.TryReceiveMultipartBytes(Wait, ref frames!), $"only {seen.Count} of {count} replies");
            if (BatchFrames.Is(frames[1], 2))
            {
                foreach (var reply in BatchFrames.Parse(frames[1]))
                {
                    seen.Add(reply.Id, (reply.Tag, reply.Body));
                }
            }
            else
            {
                seen.Add(System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(frames[1].AsSpan(6)), (Encoding.ASCII.GetString(frames[1], 14, 3), Encoding.UTF8.GetString(frames[2])));
            }
        }

        return seen;
    });

    [Theory]
    [InlineData(false, "courier/2")]
    [InlineData(true, "courier/3")]
    public async Task The_probe_is_answered_courier_3_only_when_it_offers_it(bool offer, string answer)
    {
        await using var server = await TestServer.StartAsync();
        await using var broker = await TestBroker.StartAsync();
        foreach (var endpoint in new[] { server.Endpoint!, broker.Endpoint! })
        {
            using var client = TestDealer.Connect(endpoint);
            var probe = new NetMQMessage();
            probe.AppendEmptyFrame();
            probe.Append("MDPC01");
            probe.Append("mmi.courier");
            if (offer)
            {
                probe.Append("courier/3");
            }

            client.SendMultipartMessage(probe);
            var frames = new List<byte[]>();
            Assert.True(client.TryReceiveMultipartBytes(Wait, ref frames!), $"no answer from {endpoint}");
            Assert.Equal(["", "MDPC01", "mmi.courier", "200", answer], frames.Take(5).Select(System.Text.Encoding.ASCII.GetString));
            Assert.Equal(8, Assert.Single(frames.Skip(5)).Length); // the peer's incarnation (docs/protocol.md §2)
        }
    }
}
