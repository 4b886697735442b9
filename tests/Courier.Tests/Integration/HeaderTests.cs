using System.Text;
using Courier.Client;
using Courier.Protocol;
using Courier.Server;
using Courier.Tests.Infrastructure;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Integration;

/// <summary>Headers on requests and replies (courier/5, docs/protocol.md §8) between a client and a server.</summary>
public sealed class HeaderTests
{
    /// <summary>Answers with the request's headers as lines, and sets two reply headers derived from them.</summary>
    public static readonly CourierHandler Reflect = (request, _) =>
    {
        request.ReplyHeaders.Add("seen", request.Headers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (request.Headers["trace"] is { } trace)
        {
            request.ReplyHeaders.Add("trace", trace);
        }

        return ValueTask.FromResult(CourierBody.Text(string.Join("\n", request.Headers.Select(h => $"{h.Key}={h.Value}"))));
    };

    [Fact]
    public async Task Headers_go_to_the_handler_and_its_reply_headers_come_back_alone_and_in_batches()
    {
        await using var server = await TestServer.StartAsync(map: s => s.Map("reflect", Reflect));
        await using var client = TestServer.Client(server.Endpoint!);

        // One alone (its own message), then many at once (packed into batches).
        var single = await client.RequestAsync("reflect", "x", Options(("trace", "t-1"), ("tenant", "acme"), ("trace", "t-2")));
        Assert.Equal("trace=t-1\ntenant=acme\ntrace=t-2", single.BodyText);
        Assert.Equal([("seen", "3"), ("trace", "t-1")], single.Headers.Select(h => (h.Key, h.Value)));

        var many = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => client.RequestAsync("reflect", "x", Options(("trace", $"t{i}"), ("unicode", "✓ü")))));
        for (var i = 0; i < many.Length; i++)
        {
            Assert.Equal($"trace=t{i}\nunicode=✓ü", many[i].BodyText);
            Assert.Equal($"t{i}", many[i].Headers["trace"]);
        }
    }

    [Fact]
    public async Task A_request_without_headers_has_none_and_a_reply_without_headers_has_none()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = TestServer.Client(server.Endpoint!);

        var reply = await client.RequestAsync("echo", "plain");

        Assert.Equal(("plain", 0), (reply.BodyText, reply.Headers.Count));
    }

    [Fact]
    public async Task A_handler_that_sets_headers_past_the_bound_is_answered_500_and_the_server_goes_on()
    {
        await using var server = await TestServer.StartAsync(map: s => s.Map("greedy", (request, _) =>
        {
            request.ReplyHeaders.Add("big", new string('x', CourierHeaders.MaxSize + 1));
            return ValueTask.FromResult(CourierBody.Text("unreachable"));
        }));
        await using var client = TestServer.Client(server.Endpoint!);

        var error = await Assert.ThrowsAsync<CourierRemoteException>(() => client.RequestAsync("greedy", "x"));

        Assert.Equal(500, error.StatusCode);
        Assert.Equal("plain", (await client.RequestAsync("echo", "plain")).BodyText);
    }

    [Fact]
    public async Task Headers_past_the_bounds_from_a_hostile_peer_are_answered_400_while_a_canary_sees_no_error()
    {
        await using var server = await TestServer.StartAsync(map: s => s.Map("reflect", Reflect));
        await using var canary = TestServer.Client(server.Endpoint!);
        using var stop = new CancellationTokenSource();
        var canaryErrors = 0;
        var canaryDone = 0;
        var canaryRun = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var reply = await canary.RequestAsync("reflect", "c", Options(("trace", "canary")));
                    Assert.Equal("canary", reply.Headers["trace"]);
                    Interlocked.Increment(ref canaryDone);
                }
                catch (Exception)
                {
                    Interlocked.Increment(ref canaryErrors);
                }
            }
        });

        using var hostile = TestDealer.Connect(server.Endpoint!);
        byte[][] blocks =
        [
            [.. Enumerable.Range(0, CourierHeaders.MaxCount + 1).SelectMany(_ => (byte[])[1, (byte)'k', 0, 0])], // one too many
            [.. Enumerable.Range(0, 3).SelectMany(_ => (byte[])[1, (byte)'k', 0x0B, 0xB8, .. new byte[3000]])], // too many bytes
            [1, (byte)'k', 0xFF, 0xFF, 1, 2], // a value length past the end
            [1, (byte)' ', 0, 0], // a key with a space
        ];
        for (var i = 0; i < blocks.Length; i++)
        {
            var frame = new byte[CourierFrameLength(blocks[i])];
            WriteRequest(frame, (ulong)(i + 1), "reflect", blocks[i]);
            var message = new NetMQMessage();
            message.AppendEmptyFrame();
            message.Append(frame);
            message.Append("x");
            hostile.SendMultipartMessage(message);

            NetMQMessage? reply = null;
            Assert.True(hostile.TryReceiveMultipartMessage(TimeSpan.FromSeconds(30), ref reply), "no answer to a request with bad headers");
            Assert.Equal("CURC02", Encoding.ASCII.GetString(reply[1].Buffer, 0, 6));
            Assert.Equal((ulong)(i + 1), System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(reply[1].Buffer.AsSpan(6)));
            Assert.Equal("400", Encoding.ASCII.GetString(reply[1].Buffer, 14, 3));
        }

        await Poll.UntilAsync(() => Volatile.Read(ref canaryDone) > 10, TimeSpan.FromSeconds(30), "the canary served");
        await stop.CancelAsync();
        await canaryRun;
        Assert.Equal(0, canaryErrors);
    }

    public static CourierRequestOptions Options(params (string Key, string Value)[] headers)
    {
        var collection = new CourierHeaders();
        foreach (var (key, value) in headers)
        {
            collection.Add(key, value);
        }

        return CourierRequestOptions.Default with { Headers = collection };
    }

    private static int CourierFrameLength(byte[] headers) => 38 + "reflect".Length + headers.Length;

    /// <summary>A courier/5 request header frame, written here from docs/protocol.md §8, independently of the library.</summary>
    private static void WriteRequest(byte[] frame, ulong id, string service, byte[] headers)
    {
        "CURC05"u8.CopyTo(frame);
        frame[6] = 0x01;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(frame.AsSpan(7), id);
        frame.AsSpan(15, 16).Fill(0x42); // client identity
        frame[31] = 1; // attempt
        frame[32] = 0; // flags
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(33), 10_000);
        frame[37] = (byte)service.Length;
        Encoding.ASCII.GetBytes(service).CopyTo(frame, 38);
        headers.CopyTo(frame, 38 + service.Length);
    }
}
