using System.Text;
using Courier.Broker.Internal;
using Courier.Protocol;
using Courier.Protocol.Internal;

namespace Courier.Broker;

// Loop thread only: requests from clients, 8/MMI, and replies to clients.
public sealed partial class CourierBroker
{
    private readonly Dictionary<string, BrokerService> _services = new(StringComparer.Ordinal);
    private ulong _nextToken;

    private void OnClientMessage(BrokerRequest request, byte[][] frames)
    {
        if (!TryQueue(request, frames))
        {
            request.Keep(frames);
            Retire(request);
        }
    }

    /// <summary>Queues the request in <paramref name="frames"/>, or answers it at once (error, 8/MMI) and says so.</summary>
    private bool TryQueue(BrokerRequest request, byte[][] frames)
    {
        var parsed = ServerRequestParser.Parse(frames, _options.DefaultService);
        if (parsed.Unroutable)
        {
            BrokerLog.Dropped(_logger, frames.Length, parsed.Error!);
            return false;
        }

        if (parsed.Error is not null)
        {
            RejectClient(frames, parsed, "?", CourierStatus.BadRequest, parsed.Error);
            return false;
        }

        var name = parsed.Service!;
        if (name.StartsWith("mmi.", StringComparison.Ordinal))
        {
            var argument = parsed.BodyStart < frames.Length ? frames[parsed.BodyStart] : [];
            Send(ReplyBuilder.Success(frames, parsed, AnswerMmi(name, argument, parsed.Kind)));
            return false;
        }

        long size = 0;
        for (var i = parsed.BodyStart; i < frames.Length; i++)
        {
            size += frames[i].Length;
        }

        if (size > _options.MaxRequestSize)
        {
            RejectClient(frames, parsed, name, CourierStatus.TooLarge, $"request body of {size} bytes exceeds the limit of {_options.MaxRequestSize}");
            return false;
        }

        var service = Service(name);
        if (service.Queue.Count >= _options.MaxQueuedPerService)
        {
            service.Errors++;
            RejectClient(frames, parsed, name, CourierStatus.Unavailable, $"queue full: {service.Queue.Count} requests wait for '{name}'");
            return false;
        }

        service.Queue.AddLast(request.Set(++_nextToken, frames, parsed, service));
        Dispatch(service);
        return true;
    }

    // Finished requests are kept for reuse, up to a bound: under load every request would otherwise be garbage.
    private const int SpareRequests = 4096;
    private readonly Stack<BrokerRequest> _spareRequests = new();

    private BrokerRequest RentRequest() => _spareRequests.TryPop(out var spare) ? spare : new BrokerRequest();

    /// <summary>A request answered, failed or dropped: nothing refers to it any more.</summary>
    private void Retire(BrokerRequest request)
    {
        request.Clear();
        if (_spareRequests.Count < SpareRequests)
        {
            _spareRequests.Push(request);
        }
    }

    private BrokerService Service(string name)
    {
        if (!_services.TryGetValue(name, out var service))
        {
            service = new BrokerService(name);
            _services.Add(name, service);
        }

        return service;
    }

    private void ReplyToClient(BrokerRequest request, ReadOnlySpan<ReadOnlyMemory<byte>> body)
    {
        request.Service.Served++;
        if (request.Batched)
        {
            _clientReplies.Reply(_socket!, request.Frames, request.RequestId, CourierStatus.Ok, body);
            return;
        }

        if (request.Parsed.Kind != RequestKind.Courier)
        {
            Send(ReplyBuilder.Success(request.Frames, request.Parsed, body.ToArray()));
            return;
        }

        // The common case, built in place: envelope, "", "CURC02" + request id + status, body.
        var outgoing = _outgoing;
        outgoing.Clear();
        var envelope = request.Parsed.EnvelopeLength;
        for (var i = 0; i < envelope; i++)
        {
            outgoing.Add(request.Frames[i]);
        }

        outgoing.Add(Mdp.Empty);
        Mdp.WriteCourierReplyHeader(_clientReplyHeader, request.Frames[envelope + 1], CourierStatus.Ok);
        outgoing.Add(_clientReplyHeader);
        foreach (var frame in body)
        {
            outgoing.Add(frame);
        }

        _socket!.TrySend(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(outgoing));
        outgoing.Clear();
    }

    private void FailClient(BrokerRequest request, int status, string message)
    {
        request.Service.Errors++;
        BrokerLog.Rejected(_logger, request.Service.Name, status, message);
        if (request.Batched)
        {
            _clientReplies.SendOne(_socket!, request.Frames, request.RequestId, status, [Encoding.UTF8.GetBytes(message)]);
            return;
        }

        Send(ReplyBuilder.Error(request.Frames, request.Parsed, status, message));
    }

    private void RejectClient(IReadOnlyList<byte[]> frames, in ParsedRequest parsed, string service, int status, string reason)
    {
        BrokerLog.Rejected(_logger, service, status, reason);
        Send(ReplyBuilder.Error(frames, parsed, status, reason));
    }

    private IReadOnlyList<ReadOnlyMemory<byte>> AnswerMmi(string name, ReadOnlySpan<byte> body, RequestKind kind)
    {
        var argument = Encoding.UTF8.GetString(body);
        return name switch
        {
            Mdp.ProbeService => kind == RequestKind.Mdp ? [Mmi.Found, Mdp.ProbeAnswerTo(body)] : [Mdp.ProbeAnswerTo(body)],
            "mmi.service" => [_services.TryGetValue(argument, out var s) && s.Workers.Count > 0 ? Mmi.Found : Mmi.NotFound],
            "mmi.workers" => [BrokerStats.WorkersJson(_services.Values, argument)],
            "mmi.stats" => [BrokerStats.StatsJson(_services.Values, argument)],
            _ => [Mmi.NotImplemented],
        };
    }
}
