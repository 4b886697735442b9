using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Courier.Tests.Infrastructure;
using Courier.Transport;
using Courier.Transport.Internal.Native;
using Microsoft.Extensions.Logging;

namespace Courier.Tests.Integration;

/// <summary>
/// libzmq bounds frames, not messages, and keeps every frame of a multipart message until its last: a peer sending empty
/// frames flagged "more" and never a last one made a server hold 1.2 GB after 55 MB (and would have taken the host),
/// on either transport. On the native one a listener now closes such connections once malloc's count passes
/// <see cref="TransportOptions.NativeHeapBudget"/>, those that sent the most without finishing a message first.
/// malloc's count is the process's: the collection runs alone.
/// </summary>
[Collection(NativeMemoryTests.Name)]
public sealed class UnfinishedMessageBoundTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [SkippableTheory]
    [InlineData("server")]
    [InlineData("broker")]
    public async Task A_peer_that_never_finishes_a_message_is_closed_at_the_heap_budget_while_a_slow_one_is_served(string role)
    {
        Skip.If(TestTransport.IsManaged, "NetMQ keeps unfinished messages in managed memory, unbounded (docs/guide.md, Limits against hostile peers)");
        Skip.IfNot(NativeHeap.IsAvailable, "malloc's count (glibc's mallinfo2) is not available here");

        // The test host's own heap, plus 128 MiB: 4 MiB of empty frames.
        var budget = NativeHeap.InUse() + (128L << 20);
        var transport = TransportOptions.Default with { NativeHeapBudget = budget };
        var logs = new RecordingLoggerFactory();
        await using var listener = await Listener.StartAsync(role, transport, logs);
        await using var canary = await Canary.StartAsync(listener.Endpoint);
        var port = Ports.Of(listener.Endpoint);

        // A slow but honest client: a 7/MDP request whose 8 KiB body comes 512 bytes at a time.
        using var slow = await RawZmtp.GreetedAsync(port);
        var (head, body) = SlowRequest();
        await slow.GetStream().WriteAsync(head);
        var trickle = TrickleAsync(slow, body);

        // The attacker: empty frames flagged "more", about 1 MB a second, until it is closed (or 30 s: ~1 GiB unbounded).
        using var attacker = await RawZmtp.GreetedAsync(port);
        var (sent, closed) = await FloodAsync(attacker);

        Assert.True(closed, $"the attacker was not closed after {sent:N0} bytes (malloc holds {NativeHeap.InUse():N0}, budget {budget:N0}): {logs.AtLeast(LogLevel.Warning)}");
        // Logged right after the shutdown(2) the attacker saw: on a loaded machine, a moment later.
        await Poll.UntilAsync(() => logs.Messages.Any(m => m.Contains("without finishing a message", StringComparison.Ordinal)), Wait, "the close logged");
        await Poll.UntilAsync(() => NativeHeap.InUse() < budget, Wait, "malloc's count falls back under the budget");

        // The slow client was not closed with it: its request finishes and is answered.
        byte[] reply;
        try
        {
            reply = await trickle;
        }
        catch (IOException ex)
        {
            throw new InvalidOperationException($"the slow client was closed: {logs.AtLeast(LogLevel.Warning)}", ex);
        }

        Assert.Contains("slow-but-alive", Encoding.ASCII.GetString(reply), StringComparison.Ordinal);
        await canary.AssertUnharmedAsync();
    }

    [SkippableFact]
    public async Task A_peer_that_sends_a_request_then_an_unfinished_message_at_once_and_then_idles_is_closed_too()
    {
        Skip.If(TestTransport.IsManaged, "NetMQ keeps unfinished messages in managed memory, unbounded (docs/guide.md, Limits against hostile peers)");
        Skip.IfNot(NativeHeap.IsAvailable, "malloc's count (glibc's mallinfo2) is not available here");

        // Before the memory held reaches half the budget, nothing is looked at: what a connection sent then counts too,
        // whatever whole messages came before.
        var budget = NativeHeap.InUse() + (64L << 20);
        var logs = new RecordingLoggerFactory();
        await using var listener = await Listener.StartAsync("server", TransportOptions.Default with { NativeHeapBudget = budget }, logs);
        await using var canary = await Canary.StartAsync(listener.Endpoint);
        using var attacker = await RawZmtp.GreetedAsync(Ports.Of(listener.Endpoint));

        // A whole request first (what it sent before is accounted for, nothing after), then 8 MB of empty frames in the
        // same write (~256 MiB held: well over the budget, whatever else the test host frees meanwhile), then silence.
        byte[] request = [0x01, 0x00, 0x01, 6, .. "MDPC01"u8, 0x01, 4, .. "echo"u8, 0x00, 2, .. "hi"u8];
        var chunk = new byte[request.Length + 8_000_000];
        request.CopyTo(chunk, 0);
        for (var i = request.Length; i < chunk.Length; i += 2)
        {
            chunk[i] = 0x01;
        }

        try
        {
            await attacker.GetStream().WriteAsync(chunk);
        }
        catch (IOException)
        {
            // Closed before the write was done: what the poll below sees too.
        }

        try
        {
            await Poll.UntilAsync(() => IsClosed(attacker), Wait, "the idle attacker is closed");
        }
        catch (TimeoutException ex)
        {
            throw new InvalidOperationException($"malloc holds {NativeHeap.InUse():N0}, resident {NativeHeap.Resident():N0}, budget {budget:N0}: {logs.AtLeast(LogLevel.Warning)}", ex);
        }
        await Poll.UntilAsync(() => NativeHeap.InUse() < budget, Wait, "malloc's count falls back under the budget");
        await Poll.UntilAsync(() => logs.Messages.Any(m => m.Contains("without finishing a message", StringComparison.Ordinal)), Wait, "the close logged");
        await canary.AssertUnharmedAsync();
    }

    private static (byte[] Head, byte[] Body) SlowRequest()
    {
        var frames = new List<byte>();
        frames.AddRange([0x01, 0x00]); // empty delimiter, more
        frames.AddRange([0x01, 6, .. "MDPC01"u8]);
        frames.AddRange([0x01, 4, .. "echo"u8]);
        var body = new byte[8192];
        body.AsSpan().Fill((byte)'Z');
        "slow-but-alive"u8.CopyTo(body.AsSpan(body.Length - 14));
        frames.AddRange(RawZmtp.LongFrameHeader(body.Length)); // long, last
        return ([.. frames], body);
    }

    /// <summary>The body 512 bytes every 0.5 s (8 s in all, across the attack), then the reply it gets.</summary>
    private static async Task<byte[]> TrickleAsync(TcpClient client, byte[] body)
    {
        var stream = client.GetStream();
        for (var at = 0; at < body.Length - 512; at += 512)
        {
            await stream.WriteAsync(body.AsMemory(at, 512));
            await Task.Delay(500);
        }

        return await RawZmtp.SendAndListenAsync(client, body[^512..], Wait,
            received => received.AsSpan().IndexOf("slow-but-alive"u8) >= 0);
    }

    private static async Task<(long Sent, bool Closed)> FloodAsync(TcpClient attacker)
    {
        var stream = attacker.GetStream();
        var chunk = new byte[100_000];
        for (var i = 0; i < chunk.Length; i += 2)
        {
            chunk[i] = 0x01; // short frame, more; its size byte stays 0
        }

        long sent = 0;
        var clock = Stopwatch.StartNew();
        try
        {
            while (clock.Elapsed < Wait)
            {
                await stream.WriteAsync(chunk);
                sent += chunk.Length;
                await Task.Delay(100);
                if (IsClosed(attacker))
                {
                    return (sent, true);
                }
            }
        }
        catch (IOException)
        {
            return (sent, true);
        }

        return (sent, false);
    }

    /// <summary>Whether the listener ended the connection: readable with nothing to read, once what it sent is read.</summary>
    private static bool IsClosed(TcpClient client)
    {
        try
        {
            var buffer = new byte[65536];
            while (client.Client.Available > 0)
            {
                _ = client.Client.Receive(buffer); // the listener's greeting, and replies the attacker does not want
            }

            return client.Client.Poll(0, SelectMode.SelectRead) && client.Client.Available == 0;
        }
        catch (SocketException)
        {
            return true; // reset
        }
    }

    /// <summary>A server, or a broker with an echo worker, on a loopback port.</summary>
    private sealed class Listener : IAsyncDisposable
    {
        private readonly List<IAsyncDisposable> _parts = [];

        public string Endpoint { get; private set; } = "";

        public static async Task<Listener> StartAsync(string role, TransportOptions transport, RecordingLoggerFactory logs)
        {
            var listener = new Listener();
            if (role == "server")
            {
                var server = await TestServer.StartAsync(o => o with { Transport = transport, LoggerFactory = logs });
                listener._parts.Add(server);
                listener.Endpoint = server.Endpoint!;
            }
            else
            {
                var broker = await TestBroker.StartAsync(o => o with { Transport = transport, LoggerFactory = logs });
                listener._parts.Add(broker);
                listener.Endpoint = broker.Endpoint!;
                listener._parts.Insert(0, await TestBroker.StartWorkerAsync(listener.Endpoint, "w1", handler: Courier.Server.CourierServices.Echo));
            }

            return listener;
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var part in _parts)
            {
                await part.DisposeAsync();
            }
        }
    }
}
