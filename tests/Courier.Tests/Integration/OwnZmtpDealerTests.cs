using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Courier.Client;
using Courier.Server;
using Courier.Tests.Infrastructure;
using Courier.Transport;
using Courier.Transport.Internal;
using Courier.Transport.Internal.Native;
using Courier.Transport.Internal.Zmtp;
using Microsoft.Extensions.Logging.Abstractions;

namespace Courier.Tests.Integration;

/// <summary>
/// Courier's own ZMTP DEALER (a client's TCP connection without CURVE, on the native loop, when asked for) against
/// libzmq's ROUTER, and against hand-written hostile servers: every limit attacked while a canary connection on the same
/// loop is served without a miss. Runs in the native suite only: the socket lives on the native loop.
/// </summary>
public sealed class OwnZmtpDealerTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    [SkippableFact]
    public async Task A_client_on_its_own_ZMTP_connections_is_served_by_a_libzmq_server_at_every_size()
    {
        SkipUnlessOwnDealer();
        await using var server = await TestServer.StartAsync(map: s => s.Map("echo", (request, _) => ValueTask.FromResult(request.Frames)));
        await using var client = TestServer.Client(server.Endpoint!, o => o with { Transport = o.Transport with { CourierZmtpForDealers = true } });

        var sizes = new[] { 0, 64, 300, 70_000, 1_000_000 };
        var calls = Enumerable.Range(0, 200).Select(async i =>
        {
            var body = new byte[sizes[i % sizes.Length]];
            Random.Shared.NextBytes(body);
            var reply = await client.RequestAsync("echo", body).WaitAsync(Wait);
            Assert.True(reply.Body.Span.SequenceEqual(body), $"request {i} ({body.Length} bytes) came back changed");
        });
        await Task.WhenAll(calls);
    }

    [SkippableFact]
    public async Task A_client_on_its_own_ZMTP_connection_reconnects_to_a_server_that_restarts_on_its_port()
    {
        SkipUnlessOwnDealer();
        var first = await TestServer.StartAsync(map: s => s.Map("echo", (request, _) => ValueTask.FromResult(request.Frames)));
        var endpoint = first.Endpoint!;
        await using var client = TestServer.Client(endpoint, o => o with { Transport = o.Transport with { CourierZmtpForDealers = true }, Retries = 10 });
        Assert.Equal("one", (await client.RequestAsync("echo", "one").WaitAsync(Wait)).BodyText);
        await first.DisposeAsync();

        CourierServer? second = null;
        await Poll.UntilAsync(async () =>
        {
            try
            {
                second = await TestServer.StartAsync(o => o with { Endpoint = endpoint }, s => s.Map("echo", (request, _) => ValueTask.FromResult(request.Frames)));
                return true;
            }
            catch (InvalidOperationException)
            {
                return false; // the old listener not closed yet
            }
        }, Wait, "the port free again");
        await using (second)
        {
            Assert.Equal("two", (await client.RequestAsync("echo", "two").WaitAsync(Wait)).BodyText);
        }
    }

    [SkippableFact]
    public async Task A_frame_over_the_size_limit_ends_that_connection_which_reconnects_while_a_canary_on_the_loop_is_served()
    {
        SkipUnlessOwnDealer();
        using var hostile = new HostileServer();
        await using var dealers = await Dealers.StartAsync();
        await using var canary = await dealers.CanaryAsync();
        // No heartbeats: only the limit may end the connection (a silent peer would be dropped after the timeout anyway).
        var attacked = await dealers.ConnectAsync(hostile.Endpoint, TransportOptions.Default with { MaxFrameSize = 1024, HeartbeatInterval = TimeSpan.Zero });

        using (var first = await hostile.AcceptAsync())
        {
            await first.HandshakeAsync();
            await first.WriteAsync(Frame(new byte[100], more: false)); // within the limit: delivered
            Assert.Equal(100, (await attacked.NextAsync())[0].Length);
            await first.WriteAsync([0x02, 0, 0, 0, 0, 0x40, 0, 0, 0]); // a 1 GiB frame's header
            using var second = await hostile.AcceptAsync(); // the connection ended and a new one came
            await canary.AssertServedAsync();
        }

        Assert.False(attacked.HasMore, "nothing of the oversized frame was delivered");
    }

    [SkippableFact]
    public async Task A_message_of_more_frames_than_allowed_is_dropped_whole_and_the_next_one_arrives_on_the_same_connection()
    {
        SkipUnlessOwnDealer();
        using var hostile = new HostileServer();
        await using var dealers = await Dealers.StartAsync();
        await using var canary = await dealers.CanaryAsync();
        var attacked = await dealers.ConnectAsync(hostile.Endpoint, TransportOptions.Default with { MaxFramesPerMessage = 64 });

        using var connection = await hostile.AcceptAsync();
        await connection.HandshakeAsync();
        var flood = new MemoryStream();
        for (var i = 0; i < 100_000; i++)
        {
            flood.Write(Frame([(byte)i], more: true));
        }

        flood.Write(Frame("end"u8.ToArray(), more: false));
        await connection.WriteAsync(flood.ToArray());
        await connection.WriteAsync(Frame("next"u8.ToArray(), more: false));

        var next = await attacked.NextAsync();
        Assert.Equal("next", System.Text.Encoding.ASCII.GetString(next[0]));
        await canary.AssertServedAsync();
        Assert.False(hostile.HasPendingConnection, "the connection was ended for a message it could drop");
    }

    [SkippableFact]
    public async Task A_servers_PING_is_answered_with_a_PONG_carrying_its_context()
    {
        SkipUnlessOwnDealer();
        using var hostile = new HostileServer();
        await using var dealers = await Dealers.StartAsync();
        _ = await dealers.ConnectAsync(hostile.Endpoint, TransportOptions.Default);

        using var connection = await hostile.AcceptAsync();
        await connection.HandshakeAsync();
        await connection.WriteAsync(RawZmtp.Ping("ctx-42"));

        var seen = await connection.ReadUntilAsync(b => b.AsSpan().IndexOf("\u0004PONGctx-42"u8) >= 0);
        Assert.True(seen, "no PONG echoing the context");
    }

    [SkippableFact]
    public async Task A_PING_flood_from_a_server_that_never_reads_holds_one_PONG_and_the_loop_serves_a_canary_throughout()
    {
        SkipUnlessOwnDealer();
        using var hostile = new HostileServer();
        await using var dealers = await Dealers.StartAsync();
        await using var canary = await dealers.CanaryAsync();
        var attacked = await dealers.ConnectAsync(hostile.Endpoint, TransportOptions.Default with { HeartbeatInterval = TimeSpan.Zero });

        using var connection = await hostile.AcceptAsync();
        await connection.HandshakeAsync();
        var flood = new MemoryStream();
        for (var i = 0; i < 20_000; i++)
        {
            flood.Write(RawZmtp.Ping("0123456789abcdef"));
        }

        var pings = flood.ToArray();
        // 2 million PINGs: their PONGs (46 MB) would overflow every kernel buffer between the two many times over.
        var writing = Task.Run(async () =>
        {
            for (var i = 0; i < 100; i++)
            {
                await connection.WriteAsync(pings);
            }
        });
        while (!writing.IsCompleted)
        {
            await canary.AssertServedAsync();
        }

        await writing;
        await canary.AssertServedAsync(); // a turn after the last of them was read
        var pending = await dealers.Loop.ReadAsync(() => attacked.Socket.LargestPendingBytes);
        Assert.True(pending <= 64, $"{pending} bytes of PONGs waiting for a peer that never reads");
    }

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_closed_connection_goes_on_writing_for_its_linger_what_the_kernel_had_not_taken(bool loopEnds)
    {
        SkipUnlessOwnDealer();
        using var hostile = new HostileServer();
        var dealers = await Dealers.StartAsync();
        try
        {
            await LingerAsync(hostile, dealers, loopEnds);
        }
        finally
        {
            await dealers.DisposeAsync();
        }
    }

    private static async Task LingerAsync(HostileServer hostile, Dealers dealers, bool loopEnds)
    {
        await using var canary = await dealers.CanaryAsync();
        var closing = await dealers.ConnectAsync(hostile.Endpoint, TransportOptions.Default with { Linger = TimeSpan.FromMinutes(1), HeartbeatInterval = TimeSpan.Zero });
        using var connection = await hostile.AcceptAsync();
        await connection.HandshakeAsync();
        Assert.True(await dealers.SendAsync(closing.Socket, "first"u8.ToArray()));
        Assert.True(await connection.ReadUntilAsync(b => b.AsSpan().IndexOf("first"u8) >= 0), "the first message never came");

        // More than the kernel's buffers on both sides hold while the server does not read: most of it waits in the socket.
        var body = Enumerable.Range(0, 24 * 1024 * 1024).Select(i => (byte)(i * 31 + (i >> 16))).ToArray();
        Assert.True(await dealers.SendAsync(closing.Socket, body));
        var lingering = await dealers.Loop.ReadAsync(() =>
        {
            closing.Socket.Dispose();
            if (loopEnds)
            {
                dealers.Loop.Dispose(); // from its own thread: it ends after this turn, and writes the rest before it does
            }

            return ((ZmtpDealer)closing.Socket).Lingering;
        });
        Assert.True(lingering, "nothing was left to write: the test proves nothing");

        // The server talks meanwhile: what arrives while the connection lingers is read and dropped, not left unread to
        // have the close reset the connection (and the kernel drop what it had not yet sent).
        var pings = new MemoryStream();
        for (var i = 0; i < 2_000; i++)
        {
            pings.Write(RawZmtp.Ping("0123456789abcdef"));
        }

        await connection.WriteAsync(pings.ToArray());
        if (!loopEnds)
        {
            await canary.AssertServedAsync(); // the loop serves the others meanwhile
        }

        // The end of the stream comes once all is written (the DEALER half-closes), and the connection is closed once the
        // server closes its side.
        var received = await connection.ReadToEndAsync();
        var header = ZmtpWire.HeaderSize(body.Length);
        Assert.Equal(header + body.Length, received.Length);
        Assert.True(received.AsSpan(header).SequenceEqual(body), "the message arrived changed");
        connection.Dispose();
        if (!loopEnds)
        {
            await Poll.UntilAsync(() => dealers.Loop.ReadAsync(() => !((ZmtpDealer)closing.Socket).Lingering), Wait, "the lingering connection to close");
        }
    }

    [SkippableFact]
    public async Task A_workers_connection_refuses_large_messages_past_its_unwritten_budget_but_never_a_small_one()
    {
        SkipUnlessOwnDealer();
        using var hostile = new HostileServer();
        await using var dealers = await Dealers.StartAsync();
        var worker = await dealers.ConnectAsync(hostile.Endpoint, TransportOptions.Default with { MaxPendingBytesPerPeer = 1024 * 1024, HeartbeatInterval = TimeSpan.Zero }, countUnwritten: true);
        using var connection = await hostile.AcceptAsync();
        await connection.HandshakeAsync();
        Assert.True(await dealers.SendAsync(worker.Socket, "first"u8.ToArray()));
        Assert.True(await connection.ReadUntilAsync(b => b.AsSpan().IndexOf("first"u8) >= 0), "the first message never came");

        // The server reads no more: large replies fill the kernel's buffers, then the budget.
        var refused = false;
        for (var i = 0; i < 1_000 && !refused; i++)
        {
            refused = !await dealers.SendAsync(worker.Socket, new byte[256 * 1024]);
        }

        Assert.True(refused, "the budget never refused a large message");
        Assert.Equal(SendRefusal.OverBudget, await dealers.Loop.ReadAsync(() => worker.Socket.LastRefusal));

        // Filled to the byte: nothing more fits.
        const long budget = 1024 * 1024;
        for (var room = budget - await PendingAsync(); room > 0; room = budget - await PendingAsync())
        {
            var length = room - 9 > 255 ? room - 9 : room - 2 <= 255 ? room - 2 : 100;
            Assert.True(await dealers.SendAsync(worker.Socket, new byte[length]), $"{length} bytes refused with {room} left");
        }

        Assert.Equal(budget, await PendingAsync());

        // A READY, a heartbeat or a probe still goes.
        Assert.True(await dealers.SendAsync(worker.Socket, new byte[200]), "a small message was refused for the budget");

        Task<long> PendingAsync() => dealers.Loop.ReadAsync(() => worker.Socket.LargestPendingBytes);
    }

    [SkippableFact]
    public async Task A_lingering_connection_to_a_server_that_never_reads_is_closed_at_the_lingers_end()
    {
        SkipUnlessOwnDealer();
        using var hostile = new HostileServer();
        await using var dealers = await Dealers.StartAsync();
        await using var canary = await dealers.CanaryAsync();
        var closing = await dealers.ConnectAsync(hostile.Endpoint, TransportOptions.Default with { Linger = TimeSpan.FromMilliseconds(300), HeartbeatInterval = TimeSpan.Zero });
        using var connection = await hostile.AcceptAsync();
        await connection.HandshakeAsync();
        Assert.True(await dealers.SendAsync(closing.Socket, "first"u8.ToArray()));
        Assert.True(await connection.ReadUntilAsync(b => b.AsSpan().IndexOf("first"u8) >= 0), "the first message never came");
        Assert.True(await dealers.SendAsync(closing.Socket, new byte[24 * 1024 * 1024]));
        Assert.True(await dealers.Loop.ReadAsync(() =>
        {
            closing.Socket.Dispose();
            return ((ZmtpDealer)closing.Socket).Lingering;
        }));

        // The server never reads: the connection goes at the linger's end (a reset, or the end of the stream, reaches the
        // server), and the loop serves the canary meanwhile.
        await canary.AssertServedAsync();
        await Poll.UntilAsync(() => dealers.Loop.ReadAsync(() => !((ZmtpDealer)closing.Socket).Lingering), Wait, "the linger to end");
        Assert.True(await connection.ClosedByPeerAsync(), "the connection is still open");
    }

    [SkippableFact]
    public async Task A_server_that_goes_silent_is_dropped_after_the_heartbeat_timeout_and_reconnected()
    {
        SkipUnlessOwnDealer();
        using var hostile = new HostileServer();
        await using var dealers = await Dealers.StartAsync();
        var options = TransportOptions.Default with { HeartbeatInterval = TimeSpan.FromMilliseconds(100), HeartbeatTimeout = TimeSpan.FromMilliseconds(600) };
        _ = await dealers.ConnectAsync(hostile.Endpoint, options);

        using var silent = await hostile.AcceptAsync();
        await silent.HandshakeAsync();
        Assert.True(await silent.ReadUntilAsync(RawZmtp.ContainsPing), "the DEALER never pinged");
        using var again = await hostile.AcceptAsync(); // never answered: dropped, and a new connection made
    }

    [SkippableFact]
    public async Task A_server_that_is_not_ZMTP_is_left_and_retried()
    {
        SkipUnlessOwnDealer();
        using var hostile = new HostileServer();
        await using var dealers = await Dealers.StartAsync();
        await using var canary = await dealers.CanaryAsync();
        _ = await dealers.ConnectAsync(hostile.Endpoint, TransportOptions.Default with { HeartbeatInterval = TimeSpan.Zero });

        using (var http = await hostile.AcceptAsync())
        {
            await http.WriteAsync(System.Text.Encoding.ASCII.GetBytes("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n" + new string(' ', 64)));
            using var retried = await hostile.AcceptAsync();
        }

        await canary.AssertServedAsync();
    }

    [SkippableFact]
    public async Task Messages_sent_before_the_server_is_up_wait_up_to_the_high_water_mark_and_arrive_once_it_is()
    {
        SkipUnlessOwnDealer();
        // Bound and not listening: a connect is refused (and retried) while the port stays this test's.
        using var late = new HostileServer(listen: false);
        var port = late.Port;

        await using var dealers = await Dealers.StartAsync();
        var early = await dealers.ConnectAsync($"tcp://127.0.0.1:{port}", TransportOptions.Default with { SendHighWatermark = 5, ReconnectIntervalMax = TimeSpan.FromMilliseconds(200) });
        var accepted = 0;
        for (var i = 0; i < 6; i++)
        {
            accepted += await dealers.SendAsync(early.Socket, "msg"u8.ToArray(), [(byte)('0' + i)]) ? 1 : 0;
        }

        Assert.Equal(5, accepted);
        Assert.Equal(SendRefusal.QueueFull, await dealers.Loop.ReadAsync(() => early.Socket.LastRefusal));

        late.Listen();
        using var connection = await late.AcceptAsync();
        await connection.HandshakeAsync();
        var all = string.Concat(Enumerable.Range(0, 5).Select(i => $"\u0001\u0003msg\u0000\u0001{i}"));
        Assert.True(await connection.ReadUntilAsync(b => System.Text.Encoding.Latin1.GetString(b).Contains(all, StringComparison.Ordinal)), "the five waiting messages did not arrive in order");
    }

    [SkippableFact]
    public async Task A_client_told_not_to_use_its_own_ZMTP_connects_through_libzmq_and_is_served()
    {
        Skip.If(TestTransport.IsManaged, "the managed transport has no own DEALER to turn off");
        Skip.If(Environment.GetEnvironmentVariable("COURIER_OWN_ZMTP") == "1", "COURIER_OWN_ZMTP=1 overrides the option");
        await using var server = await TestServer.StartAsync(map: s => s.Map("echo", (request, _) => ValueTask.FromResult(request.Frames)));
        await using var dealers = await Dealers.StartAsync();
        var socket = await dealers.Loop.ReadAsync(() => dealers.Loop.CreateConnected(SocketKind.Dealer, TransportOptions.Default with { CourierZmtpForDealers = false }, new Collector(), server.Endpoint!));
        Assert.IsType<NativeSocket>(socket);

        await using var client = TestServer.Client(server.Endpoint!, o => o with { Transport = o.Transport with { CourierZmtpForDealers = false } });
        Assert.Equal("through libzmq", (await client.RequestAsync("echo", "through libzmq").WaitAsync(Wait)).BodyText);
    }

    [SkippableFact]
    public async Task A_send_before_the_socket_has_an_address_is_refused_as_libzmq_refuses_it()
    {
        SkipUnlessOwnDealer();
        await using var dealers = await Dealers.StartAsync();

        // A host name still resolving: the socket exists, its connect comes later. What is sent meanwhile must not arrive
        // after the connect (the client probes again once connected; two answers would be one too many).
        var (isOwn, sent, refusal) = await dealers.Loop.ReadAsync(() =>
        {
            using var socket = dealers.Loop.CreateConnecting(SocketKind.Dealer, TransportOptions.Default with { CourierZmtpForDealers = true }, new Collector(), "tcp://courier-test.invalid:5555");
            return (socket is ZmtpDealer, socket.TrySend([new byte[] { 1 }]), socket.LastRefusal);
        });

        Assert.True(isOwn);
        Assert.False(sent);
        Assert.Equal(SendRefusal.QueueFull, refusal);
    }

    /// <summary>The own DEALER only where it can be: the native loop, and not turned off for the process.</summary>
    private static void SkipUnlessOwnDealer()
    {
        Skip.If(TestTransport.IsManaged, "the own DEALER lives on the native loop: the native suite runs this");
        Skip.If(Environment.GetEnvironmentVariable("COURIER_OWN_ZMTP") == "0", "COURIER_OWN_ZMTP=0 turns the own DEALER off");
    }

    /// <summary>A ZMTP frame.</summary>
    private static byte[] Frame(byte[] body, bool more)
    {
        var header = new byte[9];
        var size = ZmtpWire.WriteHeader(header, body.Length, more ? ZmtpWire.More : (byte)0);
        return [.. header.AsSpan(0, size), .. body];
    }

    /// <summary>A native loop with own DEALERs on it, driven from the test through posted work.</summary>
    private sealed class Dealers : IAsyncDisposable
    {
        private Dealers(ITransportLoop loop) => Loop = loop;

        public ITransportLoop Loop { get; }

        public static Task<Dealers> StartAsync()
        {
            var loop = NativeTransport.Instance.CreateLoop("own-zmtp-test", NullLogger.Instance);
            loop.Start(TimeSpan.FromMilliseconds(10), static () => { }, static () => { });
            return Task.FromResult(new Dealers(loop));
        }

        public async Task<Connected> ConnectAsync(string endpoint, TransportOptions options, bool countUnwritten = false)
        {
            var collector = new Collector();
            var socket = await Loop.ReadAsync(() => Loop.CreateConnected(SocketKind.Dealer, options with { CourierZmtpForDealers = true }, collector, endpoint, countUnwritten: countUnwritten));
            Assert.IsType<ZmtpDealer>(socket);
            return new Connected(socket, collector);
        }

        public Task<bool> SendAsync(ITransportSocket socket, params byte[][] frames)
            => Loop.ReadAsync(() => socket.TrySend(frames.Select(f => (ReadOnlyMemory<byte>)f).ToArray()));

        /// <summary>A second DEALER on the loop, to a libzmq ROUTER the test answers: it must be served throughout.</summary>
        public async Task<Canary> CanaryAsync()
        {
            var router = new NativeRouter();
            var connected = await ConnectAsync($"tcp://127.0.0.1:{router.Port}", TransportOptions.Default);
            return new Canary(this, router, connected);
        }

        public ValueTask DisposeAsync()
        {
            Loop.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    private sealed record Connected(ITransportSocket Socket, Collector Received)
    {
        public async Task<List<byte[]>> NextAsync() => await Received.Messages.Reader.ReadAsync().AsTask().WaitAsync(Wait);

        public bool HasMore => Received.Messages.Reader.TryPeek(out _);
    }

    private sealed class Canary(Dealers dealers, NativeRouter router, Connected connected) : IAsyncDisposable
    {
        private int _asked;

        /// <summary>Asks through the canary and has the ROUTER answer: the reply must come back.</summary>
        public async Task AssertServedAsync()
        {
            for (var i = 0; i < 20; i++)
            {
                var body = BitConverter.GetBytes(++_asked);
                Assert.True(await dealers.SendAsync(connected.Socket, body), "the canary's send was refused");
                Assert.True(router.TryReceive(Wait, out var request), "the canary's request never reached its ROUTER");
                router.Send(request[0], request[1]);
                Assert.Equal(body, (await connected.NextAsync())[0]);
            }
        }

        public ValueTask DisposeAsync()
        {
            router.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    private sealed class Collector : ISocketHandler
    {
        public Channel<List<byte[]>> Messages { get; } = Channel.CreateUnbounded<List<byte[]>>();

        public bool OnMessage(MessageFrames message)
        {
            var frames = new List<byte[]>();
            message.CopyTo(frames);
            Messages.Writer.TryWrite(frames);
            return true;
        }

        public void OnPeerDisconnected(ReadOnlySpan<byte> routingId)
        {
        }
    }

    /// <summary>A TCP listener whose connections the test writes ZMTP (or not) into by hand.</summary>
    private sealed class HostileServer : IDisposable
    {
        private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        public HostileServer(bool listen = true)
        {
            _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            if (listen)
            {
                Listen();
            }
        }

        public int Port => ((IPEndPoint)_socket.LocalEndPoint!).Port;

        public string Endpoint => $"tcp://127.0.0.1:{Port}";

        public bool HasPendingConnection => _socket.Poll(0, SelectMode.SelectRead);

        public void Listen() => _socket.Listen(16);

        public async Task<HostileConnection> AcceptAsync()
            => new(new TcpClient { Client = await _socket.AcceptAsync().WaitAsync(Wait) });

        public void Dispose() => _socket.Dispose();
    }

    private sealed class HostileConnection(TcpClient client) : IDisposable
    {
        private readonly NetworkStream _stream = client.GetStream();

        /// <summary>Reads the DEALER's greeting and READY, and answers as a ROUTER.</summary>
        public async Task HandshakeAsync()
        {
            var greeting = new byte[64 + 30];
            await _stream.ReadExactlyAsync(greeting).AsTask().WaitAsync(Wait);
            Assert.Equal(0xFF, greeting[0]);
            Assert.Equal("DEALER", System.Text.Encoding.ASCII.GetString(greeting, 88, 6));
            await WriteAsync(RawZmtp.GreetingAndReady(minor: 1, socketType: "ROUTER"));
        }

        public Task WriteAsync(byte[] bytes) => _stream.WriteAsync(bytes).AsTask().WaitAsync(Wait);

        /// <summary>Reads what the DEALER sends until <paramref name="seen"/> holds of it, or the wait runs out.</summary>
        public async Task<bool> ReadUntilAsync(Func<byte[], bool> seen)
        {
            var received = new List<byte>();
            var buffer = new byte[4096];
            using var timeout = new CancellationTokenSource(Wait);
            try
            {
                while (!seen([.. received]))
                {
                    var read = await _stream.ReadAsync(buffer, timeout.Token);
                    if (read == 0)
                    {
                        return false;
                    }

                    received.AddRange(buffer.AsSpan(0, read));
                }

                return true;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        /// <summary>Whether the DEALER closed the connection: what it sent is read and dropped until the end of the stream or a reset.</summary>
        public async Task<bool> ClosedByPeerAsync()
        {
            try
            {
                await _stream.CopyToAsync(Stream.Null).WaitAsync(Wait);
                return true;
            }
            catch (IOException)
            {
                return true; // reset
            }
            catch (TimeoutException)
            {
                return false;
            }
        }

        /// <summary>Everything the DEALER sends until it closes the connection (or the wait runs out).</summary>
        public async Task<byte[]> ReadToEndAsync()
        {
            var received = new MemoryStream();
            await _stream.CopyToAsync(received).WaitAsync(Wait);
            return received.ToArray();
        }

        public void Dispose() => client.Dispose();
    }
}
