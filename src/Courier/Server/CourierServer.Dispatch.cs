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

    private sealed record Work(byte[][] Frames, ParsedRequest Parsed, CourierHandler Handler);

    private void OnReadable()
    {
        for (var i = 0; i < ReceiveBatch && _socket!.TryReceive(_message, _received); i++)
        {
            Accept(_received);
        }
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

        var work = new Work([.. frames], parsed, handler);
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
            Reject(frames, parsed, service, CourierStatus.Unavailable, $"server busy: {_queue.Count} requests queued");
        }
    }

    private IReadOnlyList<ReadOnlyMemory<byte>> AnswerMmi(string service, List<byte[]> frames, in ParsedRequest parsed)
    {
        switch (service)
        {
            case Mdp.ProbeService:
                // A plain 7/MDP reply has no status frame, so the probe answer carries its own.
                return parsed.Kind == RequestKind.Mdp ? [MmiFound, Mdp.ProbeAnswer] : [Mdp.ProbeAnswer];
            case "mmi.service":
                var asked = parsed.BodyStart < frames.Count ? Encoding.UTF8.GetString(frames[parsed.BodyStart]) : "";
                return [_handlers.ContainsKey(asked) ? MmiFound : MmiNotFound];
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
        Send(ReplyBuilder.Success(work.Frames, work.Parsed, pending.Result ?? []), work.Parsed.Service!);
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
            return work.Handler(new CourierRequest(work.Parsed.Service!, Frames.From(work.Frames, work.Parsed.BodyStart)), _handlerCancellation.Token);
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
        Interlocked.Decrement(ref _inFlight);
        while (_inFlight < _options.MaxConcurrency && _queue.TryDequeue(out var next))
        {
            StartWork(next);
        }

        if (_draining && _inFlight == 0)
        {
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
