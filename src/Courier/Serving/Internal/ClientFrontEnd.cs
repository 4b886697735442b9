using System.Diagnostics.Metrics;
using Courier.Diagnostics.Internal;
using Courier.Internal;
using Courier.Protocol;
using Courier.Protocol.Internal;
using Courier.Transport;
using Courier.Transport.Internal;
using Microsoft.Extensions.Logging;

namespace Courier.Serving.Internal;

/// <summary>
/// The edge where client requests come in, for the server and the broker alike. Every message (REQ, 7/MDP, Courier, a
/// Courier batch) is decoded once into <see cref="InboundRequest"/>s, and the checks every request gets run here, once:
/// 400 malformed, 8/MMI, 404 unknown service, 503 refusing (draining), 413 too large (bytes or frames), then the target's own 503 (busy).
/// Replies leave through <see cref="Reply"/> and <see cref="Fail"/>, encoded by each request's route. Loop thread only.
/// </summary>
internal sealed class ClientFrontEnd
{
    private const int MaxSharedPeerIds = 65_536;
    private const int SpareRequests = 4096;
    private readonly IRequestTarget _target;
    private readonly string _defaultService;
    private readonly long _maxRequestSize;
    private readonly TransportOptions _transport;
    private readonly bool _reuseArrays;
    private readonly ILogger _logger;
    private readonly ViolationLog _violations;
    private readonly Security.Internal.ListenerSecurity? _security;
    private readonly HashSet<byte[]> _peerIds = new(ByteArrayComparer.Instance);

    // Drawn once per start and sent with every probe answer: a client whose connection redialled on its own can tell a
    // peer that still remembers its requests from one that restarted (or another one behind a proxy), which does not.
    private readonly byte[] _incarnation = System.Security.Cryptography.RandomNumberGenerator.GetBytes(ProtocolVersions.IncarnationLength);
    private readonly Stack<InboundRequest> _spare = new();

    // A broker's requests (reused arrays: no handler borrows them) that hold large frames, given back at its stop.
    private readonly HashSet<InboundRequest>? _holders;
    private readonly Counter<long> _answered;
    private Action<SendRefusal>? _batchRefused;

    // The newest version this edge agrees on: courier/6 when its frames may not reach a courier/7 batch's size.
    private readonly int _newest;

    /// <summary>The edge of a server or broker (<paramref name="role"/>, <see cref="TelemetryRole.Server"/> or <see cref="TelemetryRole.Broker"/>, names its metrics).</summary>
    public ClientFrontEnd(
        string role, ITransportSocket socket, IRequestTarget target, string defaultService, long maxRequestSize, bool reuseArrays, ILogger logger,
        ViolationLog violations, Security.Internal.ListenerSecurity? security = null, TransportOptions? transport = null)
    {
        _transport = transport ?? TransportOptions.Default;
        _newest = ProtocolVersions.NewestFor(_transport.MaxFrameSize);
        _violations = violations;
        _answered = role == TelemetryRole.Broker ? CourierMetrics.BrokerRequests : CourierMetrics.ServerRequests;
        _security = security is { ChecksRights: true } ? security : null;
        _target = target;
        _defaultService = defaultService;
        _maxRequestSize = maxRequestSize;
        _reuseArrays = reuseArrays;
        _holders = reuseArrays ? [] : null;
        _logger = logger;
        Replies = new ClientReplyWriter(socket);
    }

    public ClientReplyWriter Replies { get; }

    /// <summary>A message from a client: decoded, checked, and handed to the target or answered at once.</summary>
    public void OnMessage(MessageFrames message)
    {
        if (ClientRequestDecoder.IsBatch(message))
        {
            OnBatch(message);
            return;
        }

        // A batch frame of a kind no client sends: never served (a newer kind must not run the default service with the
        // batch as its body), but answered 400 as a stock request.
        if (ClientRequestDecoder.UnknownBatchKind(message) is { } kind)
        {
            RejectWhole(message, $"a batch of unknown kind 0x{kind:X2} (clients send 0x01 and 0x05)");
            return;
        }

        if (ClientRequestDecoder.IsCancel(message))
        {
            // Nothing is answered to a CANCEL: the request it names is answered (504, or not at all) by its owner.
            var key = CourierFrame5.ReadCancel(message[message.Count - 1]);
            _target.Cancel(message.UserId is { } user && !key.Client.IsNone ? key with { Client = key.Client.BoundTo(user) } : key);
            return;
        }

        if (Decode(message) is { } request)
        {
            request.BindClientToUser();
            Admit(request);
        }
    }

    /// <summary>
    /// <paramref name="message"/> as a lone request of its own, or null when it has no reply address (dropped, logged
    /// with <paramref name="rejection"/> when it was to be rejected).
    /// </summary>
    private InboundRequest? Decode(MessageFrames message, string? rejection = null)
    {
        var request = Rent();
        request.UserId = message.UserId;
        var frames = request.TakeFrames(message, PeerId(message[0]));
        if (ClientRequestDecoder.TryDecode(frames, request, _defaultService, out var dropReason))
        {
            return request;
        }

        Dropped(frames.Length, rejection is null ? dropReason! : $"{rejection}, nor answered: {dropReason}");
        Release(request);
        return null;
    }

    /// <summary>
    /// A message that reads as a batch and serves no request (too large, of an unknown kind, or with no readable record):
    /// decoded as the stock REQ request it may also be (a body that happens to start so) and answered 400, so that such a
    /// client is told rather than left waiting. A Courier client sends none: a lone record goes in its one-message form.
    /// </summary>
    private void RejectWhole(MessageFrames message, string reason)
    {
        if (Decode(message, reason) is { } request)
        {
            request.Reject(reason);
            Admit(request);
        }
    }

    /// <summary>
    /// <c>envelope…, "", "CURB03"+0x01+records</c>: each record is a request like a <c>"CURC02"</c> one. A frame up to
    /// 64 KiB is copied once and every request's body is a slice of that copy; a larger one's (courier/7) are copied
    /// each on its own (<see cref="Batch.SharedCopy"/>).
    /// </summary>
    private void OnBatch(MessageFrames message)
    {
        if (Batch.TooLarge(message.Length(message.Count - 1)) is { } tooLarge)
        {
            Dropped(message.Count, tooLarge);
            RejectWhole(message, tooLarge + ": not served");
            return;
        }

        if (ClientRequestDecoder.BatchEnvelopeProblem(message, Batch.CountRecords(message[message.Count - 1])) is { } problem)
        {
            RejectWhole(message, "a batch with " + problem + ": not served");
            return;
        }

        var userId = message.UserId;
        var envelope = Batch.ClientEnvelope(message);
        envelope[0] = PeerId(envelope[0]);
        var shared = Batch.SharedCopy(message, message.Count - 1);
        var reader = new BatchReader(shared ?? message[message.Count - 1]);
        // One CURVE peer per message: its identity is bound once for all the batch's records.
        var client = userId is not null && !reader.Client.IsNone ? reader.Client.BoundTo(userId) : reader.Client;
        var courier5 = Batch.HasClient(message[message.Count - 1][6]);
        var read = 0;
        while (reader.TryRead(out var record))
        {
            read++;
            var service = ClientRequestDecoder.ServiceName(record.Tag);
            var body = Batch.Keep(shared, record.BodyOffset, record.Body);
            Delivery delivery = default;
            var error = service is null ? Batch.InvalidServiceName
                : courier5 ? ClientRequestDecoder.DecodeMeta(Batch.Keep(shared, record.MetaOffset, record.Meta), client, out delivery)
                : null;
            var request = Rent().SetRecord(envelope, record.Id, error is null ? service : null, body, error, delivery);
            request.UserId = userId;
            Admit(request);
        }

        if (read == 0)
        {
            RejectWhole(message, "a batch with no readable record: not served");
        }
        else if (reader.Malformed)
        {
            Dropped(message.Count, "a batch with a malformed record: the rest of it is ignored");
        }
    }

    /// <summary>The shared checks, in order; what passes them all is the target's.</summary>
    private void Admit(InboundRequest request)
    {
        if (request.Error is { } error)
        {
            Fail(request, CourierStatus.BadRequest, error, "?");
            return;
        }

        var service = request.Service!;
        // The policy covers 8/MMI too (mmi.stats names services and workers); only the version probe, which tells
        // nothing, is answered to every admitted client, so that a Courier client can talk at all.
        if (_security is { } security && !security.MayCall(request.UserId, service) && service != ProtocolVersions.ProbeService)
        {
            security.CallRefused(request.UserId, service);
            if (!Replies.Error(request.Route, CourierStatus.Forbidden, $"not allowed to call '{service}'"))
            {
                ReplyDropped(service, Replies.LastRefusal);
            }

            Release(request);
            return;
        }

        if (service.StartsWith("mmi.", StringComparison.Ordinal))
        {
            AnswerMmi(request, service);
            Release(request);
            return;
        }

        if (!request.Delivery.Client.IsNone && _target.JoinedRepeat(request))
        {
            return;
        }

        if (request.Delivery.Attempt > 1 && !request.Delivery.Headers.IsEmpty && (request.Delivery.Flags & DeliveryFlags.Idempotent) == 0
            && IncarnationHeader.Read(request.Delivery.Headers.Span) is { } expected && expected != ProtocolVersions.IncarnationOf(_incarnation))
        {
            // A resend meant for the incarnation before this one (a redial after the client's probe was answered): it may
            // have run there, and this one has no memory of it.
            Fail(request, CourierStatus.OutcomeUnknown, "the resend reached another incarnation of this peer: it may have run on the one before, and does not run here");
            return;
        }

        if (_target.NotServed(request) is { } notServed)
        {
            Fail(request, CourierStatus.NotFound, notServed);
            return;
        }

        if (_target.Refusal is { } refusal)
        {
            Fail(request, CourierStatus.Unavailable, refusal);
            return;
        }

        var size = request.BodySize;
        if (size > _maxRequestSize)
        {
            Fail(request, CourierStatus.TooLarge, $"request body of {size} bytes exceeds the limit of {_maxRequestSize}");
            return;
        }

        if (request.BodyCount > _transport.MaxBodyFrames)
        {
            // Room for envelopes: passed on with them (to a worker), it would be past what a message may have.
            Fail(request, CourierStatus.TooLarge, $"request body of {request.BodyCount} frames exceeds the limit of {_transport.MaxBodyFrames}");
            return;
        }

        if (_target.TryAccept(request) is { } busy)
        {
            Fail(request, CourierStatus.Unavailable, busy);
        }
    }

    private void AnswerMmi(InboundRequest request, string service)
    {
        var argument = request.FirstBody;
        IReadOnlyList<ReadOnlyMemory<byte>> answer;
        if (service == ProtocolVersions.ProbeService)
        {
            // A plain 7/MDP reply has no status frame, so the probe answer carries its own.
            answer = request.Route.Framing == ClientFraming.Mdp
                ? [Mmi.Found, ProtocolVersions.AnswerTo(argument, _newest), _incarnation]
                : [ProtocolVersions.AnswerTo(argument, _newest), _incarnation];
        }
        else
        {
            answer = _target.AnswerMmi(service, argument) ?? [Mmi.NotImplemented];
        }

        var frames = answer as ReadOnlyMemory<byte>[] ?? [.. answer];
        if (!Replies.ReplyAlone(request.Route, frames))
        {
            ReplyDropped(service, Replies.LastRefusal);
        }
    }

    /// <summary>Answers a request the target took, and releases it.</summary>
    public void Reply(InboundRequest request, ReadOnlySpan<ReadOnlyMemory<byte>> body)
    {
        Count(request.Service, CourierStatus.Ok);
        if (!Replies.Reply(request.Route, body))
        {
            ReplyDropped(request.Service ?? "?", Replies.LastRefusal);
        }

        Release(request);
    }

    /// <summary>Answers a request the target took with what its handler or worker came to, and releases it.</summary>
    public void Answer(InboundRequest request, int status, ReadOnlySpan<ReadOnlyMemory<byte>> body, ReadOnlySpan<byte> headers = default)
    {
        Count(request.Service, status);
        var sent = status == CourierStatus.Ok
            ? Replies.Reply(request.Route, body, headers)
            : Replies.Error(request.Route, status, body.Length > 0 ? body[0] : ReadOnlyMemory<byte>.Empty, RefusalHeaders(request, status));
        if (!sent)
        {
            ReplyDropped(request.Service ?? "?", Replies.LastRefusal);
        }

        Release(request);
    }

    /// <summary>Answers a request with an error, logged, and releases it.</summary>
    public void Fail(InboundRequest request, int status, string reason, string? service = null)
    {
        service ??= request.Service ?? "?";
        Count(service, status);
        var sent = Replies.Error(request.Route, status, reason, RefusalHeaders(request, status));
        Release(request);

        // Logged once the request is answered and released: a failing logger leaves no request behind.
        if (_violations.Admit(ViolationKind.RejectedRequest))
        {
            // The reason may be a worker's words (its error reply), any length and any characters.
            FrontEndLog.Rejected(_logger, service, status, LogText.Line(reason));
        }

        if (!sent)
        {
            ReplyDropped(service, Replies.LastRefusal);
        }
    }

    /// <summary>
    /// A 503 to a courier/5 request whose client asked for it (<see cref="DeliveryFlags.RefusalNamesAttempt"/>) names the
    /// attempt it refuses (<see cref="AttemptHeader"/>): that of the copy that arrived last, a repeat that joined the run
    /// having taken over its delivery. Nothing for other replies.
    /// </summary>
    private static ReadOnlySpan<byte> RefusalHeaders(InboundRequest request, int status)
        => status == CourierStatus.Unavailable && request.Route.TakesHeaders && request.Delivery.Attempt > 0
            && (request.Delivery.Flags & DeliveryFlags.RefusalNamesAttempt) != 0
            ? AttemptHeader.Of(request.Delivery.Attempt)
            : default;

    private void Dropped(int frames, string reason)
    {
        if (_violations.Admit(ViolationKind.DroppedMessage))
        {
            FrontEndLog.Dropped(_logger, frames, reason);
        }
    }

    /// <summary>
    /// A reply the transport refused, logged by why: a client that is there and does not read (its queue full, or its
    /// unread bytes over the budget) is broken or hostile, a Warning; one that is gone is routine, and its own timeout
    /// tells it.
    /// </summary>
    private void ReplyDropped(string service, SendRefusal why)
    {
        var unread = why is SendRefusal.OverBudget or SendRefusal.QueueFull;
        if (!_violations.Admit(unread ? ViolationKind.UnreadReplies : ViolationKind.DroppedReply))
        {
            return;
        }

        switch (why)
        {
            case SendRefusal.OverBudget:
                FrontEndLog.ReplyOverBudget(_logger, service, _transport.MaxPendingBytesPerPeer);
                break;
            case SendRefusal.QueueFull:
                FrontEndLog.ReplyQueueFull(_logger, service, _transport.SendHighWatermark);
                break;
            case SendRefusal.PeerGone:
                FrontEndLog.ReplyToGoneClient(_logger, service);
                break;
            default:
                FrontEndLog.ReplyDropped(_logger, service);
                break;
        }
    }

    /// <summary>A request nobody will answer (its client is gone): forgotten, its object kept for the next.</summary>
    public void Release(InboundRequest request)
    {
        request.Clear();
        if (_spare.Count < SpareRequests)
        {
            _spare.Push(request);
        }
    }

    /// <summary>Sends what was packed this turn: the loop's end-of-turn hook calls it.</summary>
    public void Flush()
    {
        Replies.Flush(_batchRefused ??= why => ReplyDropped("(batched replies)", why));
    }

    /// <summary><c>courier.server.requests</c> or <c>courier.broker.requests</c>: one request answered, by service and status.</summary>
    private void Count(string? service, int status)
    {
        if (_answered.Enabled)
        {
            // A name nobody serves or keeps (a 404, a broker's 503 at MaxServices, a 413 before a broker made it), or a
            // malformed one, comes from the peer: as a tag value it would let any client make series without bound.
            var method = status is CourierStatus.BadRequest or CourierStatus.NotFound || service is null || !_target.Keeps(service) ? "_OTHER" : service;
            _answered.Add(
                1,
                new KeyValuePair<string, object?>(CourierMetrics.MethodTag, method),
                new KeyValuePair<string, object?>(CourierMetrics.StatusTag, StatusText.Of(status)));
        }
    }

    /// <summary>
    /// Gives back the large frames that requests still unanswered hold (a broker's, queued or at a worker): its loop has
    /// stopped, so nothing will answer them. A server's requests are its runner's to give back.
    /// </summary>
    public void GiveBackHeld()
    {
        foreach (var request in _holders?.ToArray() ?? [])
        {
            request.Clear();
        }
    }

    private InboundRequest Rent() => _spare.TryPop(out var spare) ? spare : new InboundRequest(_reuseArrays, _holders);

    /// <summary>The one array holding routing id <paramref name="id"/>: a client's requests need not each copy it.</summary>
    private byte[] PeerId(ReadOnlySpan<byte> id)
    {
        var lookup = _peerIds.GetAlternateLookup<ReadOnlySpan<byte>>();
        if (lookup.TryGetValue(id, out var shared))
        {
            return shared;
        }

        if (_peerIds.Count >= MaxSharedPeerIds)
        {
            _peerIds.Clear(); // peers come and go: start afresh rather than grow without bound
        }

        shared = id.ToArray();
        _peerIds.Add(shared);
        return shared;
    }
}
