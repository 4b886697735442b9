using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Courier.Json;

namespace Courier.Worker;

/// <summary>Typed handlers on a <see cref="CourierWorker"/> (see <see cref="CourierJson"/>).</summary>
public static class CourierWorkerJsonExtensions
{
    // RS0026/RS0027 guard shipped overloads against a new optional parameter changing what a call means. These overloads
    // are new together, differ in a required parameter's type, and keep the optional ones last.
#pragma warning disable RS0026, RS0027
    /// <summary>
    /// Serves <paramref name="service"/> with a typed <paramref name="handler"/>, with source-generated metadata; the
    /// optional parameters are those of <see cref="CourierWorker.Map(string, Server.CourierHandler, int?, bool, int?)"/>.
    /// </summary>
    public static CourierWorker Map<TRequest, TReply>(this CourierWorker worker, string service, CourierHandler<TRequest, TReply> handler,
        JsonTypeInfo<TRequest> requestType, JsonTypeInfo<TReply> replyType, int? concurrency = null, bool idempotent = false, int? prefetch = null)
    {
        ArgumentNullException.ThrowIfNull(worker);
        return worker.Map(service, CourierJson.Handler(handler, requestType, replyType), concurrency, idempotent, prefetch);
    }

    /// <summary>
    /// Serves <paramref name="service"/> with a typed <paramref name="handler"/>, with the metadata <paramref name="context"/>
    /// generated for both types; the optional parameters are those of <see cref="CourierWorker.Map(string, Server.CourierHandler, int?, bool, int?)"/>.
    /// </summary>
    public static CourierWorker Map<TRequest, TReply>(this CourierWorker worker, string service, CourierHandler<TRequest, TReply> handler,
        JsonSerializerContext context, int? concurrency = null, bool idempotent = false, int? prefetch = null)
    {
        ArgumentNullException.ThrowIfNull(worker);
        return worker.Map(service, CourierJson.Handler(handler, context), concurrency, idempotent, prefetch);
    }
#pragma warning restore RS0026, RS0027
}
