using System.Buffers.Binary;
using Courier.Client;
using Courier.Client.Internal;
using Courier.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Integration;

/// <summary>
/// A server played frame by frame that says it restarted at every liveness probe: each time, the client retires the
/// connection (it takes nothing new and keeps what went out after the probe, for the answers the new peer owes) and opens
/// a fresh one. Each retiring connection holds a descriptor and libzmq's buffers, so an endpoint keeps at most
/// <see cref="ConnectionPool.MaxRetiring"/> of them: past that its oldest is given up as lost.
/// </summary>
public sealed class RestartingPeerBoundTests
{
    [Fact]
    public async Task A_peer_that_restarts_at_every_probe_cannot_make_the_client_keep_a_connection_for_each_restart()
    {
        await using var server = await TestServer.StartAsync();
        await using var canary = await Canary.StartAsync(server.Endpoint!);
        var logs = new RecordingLoggerFactory();
        using var hostile = new RestartingPeer();
        // The client's clock is the test's: attempts expire only when it moves, so that no retired connection's probe
        // can go unanswered past its deadline on a busy machine (the peer answers each before the clock moves again).
        var clock = new FakeTimeProvider();
        await using var client = new CourierClient(CourierClientOptions.Default with
        {
            Endpoints = [hostile.Endpoint],
            Timeout = TimeSpan.FromHours(1),
            Retries = 1000,
            TimeProvider = clock,
            LoggerFactory = logs,
        });

        const int Restarts = ConnectionPool.MaxRetiring + 4;
        var first = new List<Task<CourierReply>>(); // each the request that finds a fresh connection
        var kept = new List<Task<CourierReply>>(); // each sent after a probe that the answer says restarted: kept by its connection
        var most = 0;
        for (var restart = 1; restart <= Restarts; restart++)
        {
            first.Add(client.RequestAsync("work", "first"));
            await hostile.PumpAsync(() => hostile.OnCurrent > 0, "a fresh connection negotiated and took the request");
            most = Math.Max(most, Ports.ConnectionsTo(hostile.Port));

            // Every request's attempt expires: the current connection is probed, and so is each retiring one still open,
            // which the peer answers as the incarnation it told that connection, so that each resends what it holds. Those
            // resends are awaited here: the restart below makes the client give its oldest retiring connection up at once.
            var retiringOpen = hostile.Retired.Count - logs.Messages.Count(m => m.Contains(Dead, StringComparison.Ordinal));
            hostile.BeginRound();
            clock.Advance(TimeSpan.FromMinutes(61));
            await hostile.PumpAsync(
                () => hostile.HeldProbes > 0 && hostile.ProbedThisRound == retiringOpen && hostile.ResentThisRound == retiringOpen,
                $"the current connection probed, and {retiringOpen} retiring ones probed and resending");

            // Sent after the probe: the answer "restarted" retires the connection, and this request stays with it.
            kept.Add(client.RequestAsync("work", "kept"));
            // Until the client has taken the answer in too: a request sent before would still go to the old connection.
            await hostile.PumpAsync(
                () => hostile.Retired.Count == restart && logs.Messages.Count(m => m.Contains(Restarted, StringComparison.Ordinal)) == restart,
                $"restart {restart} told and taken in");
            most = Math.Max(most, Ports.ConnectionsTo(hostile.Port));
        }

        // The bound's retiring connections, the current one, and one given up whose close libzmq has not finished (without
        // the bound: one per restart and the current one, 37); once the closes are done, the bound's alone.
        Assert.InRange(most, 1, ConnectionPool.MaxRetiring + 2);
        await Poll.UntilAsync(() => Ports.ConnectionsTo(hostile.Port) == ConnectionPool.MaxRetiring, what: $"{ConnectionPool.MaxRetiring} connections left open");
        // The oldest (and only they) were given up as lost, and what each held may have run and is not idempotent: of unknown outcome.
        // The rest wait on their connections for answers the peer still owes.
        // No connection died for another reason.
        var givenUp = Restarts - ConnectionPool.MaxRetiring;
        Assert.All(logs.Messages.Where(m => m.Contains(Dead, StringComparison.Ordinal)), m => Assert.Contains(GaveUpOldest, m, StringComparison.Ordinal));
        for (var i = 0; i < givenUp; i++)
        {
            Assert.True(kept[i].IsCompleted, $"the request kept by retiring connection {i + 1} (of the oldest) ended when it was given up");
            var error = await Assert.ThrowsAsync<CourierOutcomeUnknownException>(() => kept[i]);
            Assert.Contains(GaveUpOldest, error.Message, StringComparison.Ordinal);
        }

        Assert.All(kept.Skip(givenUp), request => Assert.False(request.IsCompleted));
        // Each request a restart found on the connection it retired ran once or not at all, as far as the client knows.
        foreach (var request in first)
        {
            await Assert.ThrowsAsync<CourierOutcomeUnknownException>(() => request.WaitAsync(TimeSpan.FromSeconds(15)));
        }

        await canary.AssertUnharmedAsync();
        await client.DisposeAsync();
        foreach (var request in kept.Skip(givenUp))
        {
            await Assert.ThrowsAsync<CourierClosedException>(() => request.WaitAsync(TimeSpan.FromSeconds(15)));
        }
    }

    private const string Restarted = "answered as another incarnation";

    private const string Dead = "is dead";

    private static readonly string GaveUpOldest = $"more than {ConnectionPool.MaxRetiring} connections to its endpoint were retiring";

    /// <summary>
    /// The hostile server: tells each fresh connection a new incarnation (a start of the peer); holds the current
    /// connection's liveness probes until a request sent after them comes, then answers them as yet another incarnation;
    /// answers a retired connection's probes as the incarnation it last told that connection.
    /// </summary>
    private sealed class RestartingPeer : IDisposable
    {
        private readonly RouterSocket _socket;
        private readonly Dictionary<string, byte[]> _told = []; // the incarnation each connection was last told
        private readonly List<List<byte[]>> _held = []; // the current connection's probes
        private readonly HashSet<string> _probed = []; // retiring connections probed this round
        private readonly HashSet<string> _resent = []; // those that resent what they hold after the answer
        private string? _current;
        private ulong _incarnations;

        public RestartingPeer()
        {
            _socket = RawServer.Bind(out var endpoint);
            Endpoint = endpoint;
            Port = Ports.Of(endpoint);
        }

        public string Endpoint { get; }

        public int Port { get; }

        public HashSet<string> Retired { get; } = [];

        public int OnCurrent { get; private set; }

        public int HeldProbes => _held.Count;

        public int ProbedThisRound => _probed.Count;

        public int ResentThisRound => _resent.Count;

        public void BeginRound()
        {
            _probed.Clear();
            _resent.Clear();
        }

        /// <summary>Reads and answers until <paramref name="done"/>; a failed assertion naming <paramref name="what"/> if that takes 30 s.</summary>
        public async Task PumpAsync(Func<bool> done, string what)
        {
            var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            var frames = new List<byte[]>();
            while (!done())
            {
                Assert.True(DateTime.UtcNow < until, $"not seen within 30 s: {what}");
                if (_socket.TryReceiveMultipartBytes(TimeSpan.FromMilliseconds(20), ref frames))
                {
                    On(frames);
                }
                else
                {
                    await Task.Yield();
                }
            }
        }


        private void On(List<byte[]> frames)
        {
            var connection = Convert.ToHexString(frames[0]);
            if (RawServer.IsProtocolProbe(frames))
            {
                _told[connection] = NextIncarnation();
                _current = connection;
                OnCurrent = 0;
                RawServer.AnswerProbe(_socket, frames[0], "courier/3", _told[connection]);
            }
            else if (Retired.Contains(connection))
            {
                if (IsLivenessProbe(frames))
                {
                    _probed.Add(connection);
                    RawServer.AnswerLiveness(_socket, frames, "courier/3", _told[connection]); // alive: it keeps what it holds
                }
                else if (_probed.Contains(connection))
                {
                    _resent.Add(connection);
                }
            }
            else if (connection == _current && IsLivenessProbe(frames))
            {
                _held.Add([.. frames]);
            }
            else if (connection == _current && _held.Count > 0)
            {
                // A request sent after the probes: the answers now say "restarted", and the connection retires holding it.
                _told[connection] = NextIncarnation();
                foreach (var probe in _held)
                {
                    RawServer.AnswerLiveness(_socket, probe, "courier/3", _told[connection]);
                }

                _held.Clear();
                Retired.Add(connection);
                _current = null;
                OnCurrent = 0;
            }
            else if (connection == _current)
            {
                OnCurrent++;
            }
        }

        private byte[] NextIncarnation()
        {
            var incarnation = new byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(incarnation, ++_incarnations);
            return incarnation;
        }

        /// <summary>A liveness probe of courier/3 framing: a request whose id has the top bit set.</summary>
        private static bool IsLivenessProbe(List<byte[]> frames)
            => frames.Count >= 3 && frames[2].Length >= 14 && frames[2].AsSpan(0, 6).SequenceEqual("CURC02"u8)
                && BinaryPrimitives.ReadUInt64BigEndian(frames[2].AsSpan(6)) >= 1UL << 63;

        public void Dispose() => _socket.Dispose();
    }
}
