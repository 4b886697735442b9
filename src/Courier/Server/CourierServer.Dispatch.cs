using System.Text;
using Courier.Protocol;
using Courier.Protocol.Internal;
using Courier.Server.Internal;
using Courier.Transport.Internal;

namespace Courier.Server;

// Everything here runs on the loop thread, except handlers on the thread pool (StartHandler, FinishAsync), which hand
// their replies back to the loop through Post.
public sealed partial class CourierServer
{
    private const int ReceiveBatch = 1024;
    private static readonly byte[] MmiFound = "200"u8.ToArray();
    private static readonly byte[] MmiNotFound = "404"u8.ToArray();
    private static readonly byte[] MmiNotImplemented = "501"u8.ToArray();

    private readonly MessageFrames _message = new();
    private readonly List<byte[]> _received = [];
    private readonly Queue<Work> _queue = new();
    private int _inFlight;
    private bool _draining;

    /// <summary>A request to run. One from a batch has only its envelope in <c>Frames</c>, and its id and body apart.</summary>
    private sealed record Work(byte[][] Frames, ParsedRequest Parsed, CourierHandler Handler, ulong RequestId = 0, ReadOnlyMemory<byte>[]? BatchBody = null)
    {
        public bool Batched => BatchBody is not null;
    }

    private void OnReadable()
    {
        for (var i = 0; i < ReceiveBatch && _socket!.TryReceive(_message); i++)
        {
            var message = _message;
            if (message.Count >= 3 && message.Length(message.Count - 2) == 0 && Batch.Is(message[message.Count - 1], Batch.ClientRequest))
            {
                AcceptBatch(message);
            }
            else
            {
                message.CopyTo(_received);
                Accept(_received);
            }

            if (i == 0)
            {
                // A lone request's reply leaves before asking libzmq for more (see CourierWorker.OnReadable).
                _clientReplies.Flush(_socket!);
            }
        }

        _clientReplies.Flush(_socket!);
    }

    private void Accept(List<byte[]> frames)
    {
        var parsed = ServerRequestParser.Parse(frames, _options.DefaultService);
        if (parsed.Unroutable)
        {
            ServerLog.Dropped(_logger, frames.Count, parsed.Error!);
            return;
        }

        if (parsed.Error is not null)
        {
            Reject(frames, parsed, "?", CourierStatus.BadRequest, parsed.Error);
            return;
        }

        var service = parsed.Service!;
        if (service.StartsWith("mmi.", StringComparison.Ordinal))
        {
            Send(ReplyBuilder.Success(frames, parsed, AnswerMmi(service, frames, parsed)), service);
            return;
        }

        if (!_handlers.TryGetValue(service, out var handler))
        {
            Reject(frames, parsed, service, CourierStatus.NotFound, $"no service '{service}' here");
            return;
        }

        if (_draining)
        {
            Reject(frames, parsed, service, CourierStatus.Unavailable, "server is shutting down");
            return;
        }

        long size = 0;
        for (var i = parsed.BodyStart; i < frames.Count; i++)
        {
            size += frames[i].Length;
        }

        if (size > _options.MaxRequestSize)
        {
            Reject(frames, parsed, service, CourierStatus.TooLarge, $"request body of {size} bytes exceeds the limit of {_options.MaxRequestSize}");
            return;
        }

        if (!TryRun(new Work([.. frames], parsed, handler)))
        {
            Reject(frames, parsed, service, CourierStatus.Unavailable, $"server busy: {_queue.Count} requests queued");
        }
    }

    /// <summary>Starts <paramref name="work"/> or queues it; false when the queue is full too.</summary>
    private bool TryRun(Work work)
    {
        if (_inFlight < _options.MaxConcurrency)
        {
            StartWork(work);
        }
        else if (_queue.Count < _options.MaxQueuedRequests)
        {
            _queue.Enqueue(work);
        }
        else
        {
            return false;
        }

        return true;
    }

    private IReadOnlyList<ReadOnlyMemory<byte>> AnswerMmi(string service, List<byte[]> frames, in ParsedRequest parsed)
        => AnswerMmi(service, parsed.BodyStart < frames.Count ? frames[parsed.BodyStart] : [], parsed.Kind);

    private IReadOnlyList<ReadOnlyMemory<byte>> AnswerMmi(string service, ReadOnlySpan<byte> argument, RequestKind kind)
    {
        switch (service)
        {
            case Mdp.ProbeService:
                // A plain 7/MDP reply has no status frame, so the probe answer carries its own.
                return kind == RequestKind.Mdp ? [MmiFound, Mdp.ProbeAnswerTo(argument)] : [Mdp.ProbeAnswerTo(argument)];
            case "mmi.service":
                return [_handlers.ContainsKey(Encoding.UTF8.GetString(argument)) ? MmiFound : MmiNotFound];
            default:
                return [MmiNotImplemented];
        }
    }

    private void StartWork(Work work)
    {
        Interlocked.Increment(ref _inFlight);
        if (!_options.RunHandlersInline)
        {
            ThreadPool.UnsafeQueueUserWorkItem(
                static state => _ = state.Server.FinishAsync(state.Work, state.Server.StartHandler(state.Work)), (Server: this, Work: work), preferLocal: false);
            return;
        }

        var pending = StartHandler(work);
        if (!pending.IsCompletedSuccessfully)
        {
            _ = FinishAsync(work, pending);
            return;
        }

        // Answered at once, on the loop: no hop. The caller's loop (Complete, or arrival) starts queued work next,
        // so an inline handler never recurses into the queue.
        if (work.Batched)
        {
            ReplyBatched(work, CourierStatus.Ok, pending.Result ?? []);
        }
        else
        {
            Send(ReplyBuilder.Success(work.Frames, work.Parsed, pending.Result ?? []), work.Parsed.Service!);
        }

        Interlocked.Decrement(ref _inFlight);
        if (_draining && _inFlight == 0 && _queue.Count == 0)
        {
            _drained.TrySetResult();
        }
    }

    private ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> StartHandler(Work work)
    {
        try
        {
            var body = work.BatchBody ?? Frames.From(work.Frames, work.Parsed.BodyStart);
            return work.Handler(new CourierRequest(work.Parsed.Service!, body), _handlerCancellation.Token);
        }
#pragma warning disable CA1031 // A handler that throws before its first await fails like one that throws after it.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return ValueTask.FromException<IReadOnlyList<ReadOnlyMemory<byte>>>(ex);
        }
    }

    private async Task FinishAsync(Work work, ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> pending)
    {
        if (work.Batched)
        {
            await FinishBatchedAsync(work, pending).ConfigureAwait(false);
            return;
        }

        var service = work.Parsed.Service!;
        ReadOnlyMemory<byte>[] reply;
        try
        {
            var body = await pending.ConfigureAwait(false);
            reply = ReplyBuilder.Success(work.Frames, work.Parsed, body ?? []);
        }
        catch (OperationCanceledException) when (_handlerCancellation.IsCancellationRequested)
        {
            reply = ReplyBuilder.Error(work.Frames, work.Parsed, CourierStatus.Unavailable, "cancelled: server shut down before the request finished");
        }
#pragma warning disable CA1031 // A handler's failure, whatever it is, becomes an error reply; the server keeps serving.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            ServerLog.HandlerFailed(_logger, ex, service);
            reply = ReplyBuilder.Error(work.Frames, work.Parsed, CourierStatus.ServerError, $"{ex.GetType().Name}: {ex.Message}");
        }

        _loop!.Post(() => Complete(reply, service));
    }

    private void Complete(ReadOnlyMemory<byte>[] reply, string service)
    {
        Send(reply, service);
        Finished();
        _clientReplies.Flush(_socket!);
    }

    /// <summary>One request fewer running: start what waits, or finish the drain.</summary>
    private void Finished()
    {
        Interlocked.Decrement(ref _inFlight);
        while (_inFlight < _options.MaxConcurrency && _queue.TryDequeue(out var next))
        {
            StartWork(next);
        }

        if (_draining && _inFlight == 0)
        {
            _clientReplies.Flush(_socket!); // the last replies leave before the stop goes on
            _drained.TrySetResult();
        }
    }

    private void BeginDrain()
    {
        _draining = true;
        ServerLog.Draining(_logger, _options.Name, _inFlight + _queue.Count, _options.DrainTimeout);
        if (_inFlight == 0 && _queue.Count == 0)
        {
            _drained.TrySetResult();
        }
    }

    private void Reject(List<byte[]> frames, in ParsedRequest parsed, string service, int status, string reason)
    {
        ServerLog.Rejected(_logger, service, status, reason);
        Send(ReplyBuilder.Error(frames, parsed, status, reason), service);
    }

    private void Send(ReadOnlyMemory<byte>[] reply, string service)
    {
        if (!_socket!.TrySend(reply))
        {
            ServerLog.ReplyDropped(_logger, service);
        }
    }
}
