using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Courier.Json;

namespace Courier.Server;

/// <summary>Typed handlers on a <see cref="CourierServer"/> (see <see cref="CourierJson"/>).</summary>
public static class CourierServerJsonExtensions
{
    /// <summary>Hosts a typed <paramref name="handler"/> as <paramref name="service"/>, with source-generated metadata.</summary>
    public static CourierServer Map<TRequest, TReply>(this CourierServer server, string service, CourierHandler<TRequest, TReply> handler,
        JsonTypeInfo<TRequest> requestType, JsonTypeInfo<TReply> replyType)
    {
        ArgumentNullException.ThrowIfNull(server);
        return server.Map(service, CourierJson.Handler(handler, requestType, replyType));
    }

    /// <summary>Hosts a typed <paramref name="handler"/> as <paramref name="service"/>, with the metadata <paramref name="context"/> generated for both types.</summary>
    public static CourierServer Map<TRequest, TReply>(this CourierServer server, string service, CourierHandler<TRequest, TReply> handler, JsonSerializerContext context)
    {
        ArgumentNullException.ThrowIfNull(server);
        return server.Map(service, CourierJson.Handler(handler, context));
    }
}
