using System.Collections.Concurrent;
using Courier.Tests.Infrastructure;
using Courier.Transport;
using Courier.Transport.Internal;
using Microsoft.Extensions.Logging;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Integration;

/// <summary>No exception escapes a loop thread: whatever its work throws is logged and the loop, and the process, go on.</summary>
public sealed class LoopFaultTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_loop_whose_message_handler_posted_work_tick_and_turn_end_all_throw_keeps_serving()
    {
        var logs = new RecordingLoggerFactory();
        var transport = TransportResolver.Resolve(TransportOptions.Default, logs.CreateLogger("test"));
        using var loop = transport.CreateLoop("faulty", logs.CreateLogger("loop"));
        var handler = new Handler();
        var socket = loop.CreateSocket(SocketKind.Router, TransportOptions.Default, handler); // the loop closes it: sockets are its own
        var endpoint = socket.Bind("tcp://127.0.0.1:*");
        var ticks = 0;
        var turns = 0;
        loop.Start(
            TimeSpan.FromMilliseconds(10),
            () => throw new InvalidOperationException($"tick {Interlocked.Increment(ref ticks)}"),
            () => throw new InvalidOperationException($"turn end {Interlocked.Increment(ref turns)}"));

        var posted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        loop.Post(() => throw new InvalidOperationException("posted"));
        loop.Post(posted.SetResult);
        await posted.Task.WaitAsync(Wait);

        using var dealer = new DealerSocket();
        dealer.Connect(endpoint);
        dealer.SendFrame("boom");
        dealer.SendFrame("ok");
        await Poll.UntilAsync(() => handler.Seen.Contains("ok"), Wait, "a message after the one whose handler threw");

        await Poll.UntilAsync(() => Volatile.Read(ref ticks) > 3 && Volatile.Read(ref turns) > 3, Wait, "ticks and turns going on");
        Assert.True(logs.Contains("the loop goes on"), "the failures are logged");
    }

    [Fact]
    public async Task A_loop_disposed_by_its_own_work_stops_and_closes_its_sockets()
    {
        // A handler on the loop's thread that disposes its owner (a client disposed from an inline continuation, say):
        // the loop must not wait for itself. NetMQPoller.Dispose, called there, waited forever.
        var logs = new RecordingLoggerFactory();
        var transport = TransportResolver.Resolve(TransportOptions.Default, logs.CreateLogger("test"));
        var loop = transport.CreateLoop("self-disposing", logs.CreateLogger("loop"));
        var socket = loop.CreateSocket(SocketKind.Router, TransportOptions.Default, new Handler());
        var endpoint = socket.Bind("tcp://127.0.0.1:*");
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var disposeReturned = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        loop.Start(TimeSpan.FromMilliseconds(10), () => { }, () => { }, stopped.SetResult);

        loop.Post(() =>
        {
            loop.Dispose();
            disposeReturned.SetResult();
        });

        await disposeReturned.Task.WaitAsync(Wait);
        await stopped.Task.WaitAsync(Wait);
        loop.Dispose(); // and again, from here: nothing left to do

        // Its socket is closed: the port can be bound again.
        using var again = new RouterSocket();
        await Poll.UntilAsync(() => TryBind(again, endpoint), Wait, $"{endpoint} free again");
    }

    private static bool TryBind(RouterSocket socket, string endpoint)
    {
        try
        {
            socket.Bind(endpoint);
            return true;
        }
        catch (NetMQException)
        {
            return false;
        }
    }

    [Fact]
    public async Task A_server_whose_logger_throws_on_the_loop_still_answers_everyone_else()
    {
        await using var server = await TestServer.StartAsync(o => o with { LoggerFactory = new ThrowingLoggerFactory("Rejected") });
        await using var client = TestServer.Client(server.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(1), Retries = 0 });

        // Its rejection is logged, and that log call throws on the server's loop, before the 404 is sent.
        await Assert.ThrowsAnyAsync<CourierException>(() => client.RequestAsync("nosuch", "x"));

        for (var i = 0; i < 20; i++)
        {
            Assert.Equal($"canary {i}", (await client.RequestAsync("echo", $"canary {i}")).BodyText);
        }
    }

    [Fact]
    public async Task A_request_to_an_endpoint_the_transport_refuses_fails_with_a_courier_error_and_the_process_serves_on()
    {
        await using var server = await TestServer.StartAsync();
        await using var lost = TestServer.Client("tcp://no-such-host.invalid:5555", o => o with { Timeout = TimeSpan.FromSeconds(1), Retries = 0 });

        // Managed: the address is refused at once (unreachable); native resolves in the background (timeout).
        var error = await Assert.ThrowsAnyAsync<CourierException>(() => lost.RequestAsync("echo", "first"));
        Assert.True(error is CourierUnreachableException or CourierTimeoutException, error.ToString());

        await using var client = TestServer.Client(server.Endpoint!);
        Assert.Equal("second", (await client.RequestAsync("echo", "second")).BodyText);
    }

    [Fact]
    public async Task A_client_fails_over_from_an_endpoint_the_transport_refuses_to_the_next()
    {
        await using var server = await TestServer.StartAsync();
        await using var client = TestServer.Client(server.Endpoint!, o => o with
        {
            Endpoints = ["tcp://no-such-host.invalid:5555", server.Endpoint!],
            Timeout = TimeSpan.FromSeconds(1),
            Retries = 1,
        });

        Assert.Equal("first", (await client.RequestAsync("echo", "first")).BodyText);
    }

    [Fact]
    public async Task A_reply_that_cannot_be_sent_is_answered_500_and_gives_its_handler_slot_back()
    {
        await using var server = await TestServer.StartAsync(
            o => o with { MaxConcurrency = 1, MaxQueuedRequests = 0 },
            s => s.Map("broken", (_, _) => ValueTask.FromResult<IReadOnlyList<ReadOnlyMemory<byte>>>(new UnreadableBody())));
        await using var client = TestServer.Client(server.Endpoint!, o => o with { Retries = 0 });

        for (var i = 0; i < 3; i++)
        {
            var error = await Assert.ThrowsAsync<CourierRemoteException>(() => client.RequestAsync("broken", "x"));
            Assert.Equal(Protocol.CourierStatus.ServerError, error.StatusCode);
        }

        // One slot, no queue: had a slot leaked, this would be refused 503.
        Assert.Equal("still here", (await client.RequestAsync("echo", "still here")).BodyText);
    }

    /// <summary>A reply body that throws when read: the handler returned something it has since taken away.</summary>
    private sealed class UnreadableBody : IReadOnlyList<ReadOnlyMemory<byte>>
    {
        public int Count => 1;

        public ReadOnlyMemory<byte> this[int index] => throw new ObjectDisposedException("body");

        public IEnumerator<ReadOnlyMemory<byte>> GetEnumerator() => throw new ObjectDisposedException("body");

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    private sealed class Handler : ISocketHandler
    {
        public ConcurrentBag<string> Seen { get; } = [];

        public bool OnMessage(MessageFrames message)
        {
            var text = System.Text.Encoding.UTF8.GetString(message[message.Count - 1]);
            if (text == "boom")
            {
                throw new InvalidOperationException("a handler that throws");
            }

            Seen.Add(text);
            return true;
        }

        public void OnPeerDisconnected(ReadOnlySpan<byte> routingId)
        {
        }
    }

    /// <summary>Loggers that throw whenever a message contains <c>trigger</c>: code on a loop thread that fails.</summary>
    private sealed class ThrowingLoggerFactory(string trigger) : ILoggerFactory
    {
        public ILogger CreateLogger(string categoryName) => new Logger(trigger);

        public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException();

        public void Dispose()
        {
        }

        private sealed class Logger(string trigger) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (formatter(state, exception).Contains(trigger, StringComparison.Ordinal))
                {
                    throw new InvalidOperationException("a logger that throws");
                }
            }
        }
    }
}
