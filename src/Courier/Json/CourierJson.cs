using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Courier.Json.Internal;
using Courier.Server;

namespace Courier.Json;

/// <summary>
/// Typed handlers: a function of a <typeparamref name="TRequest"/> returning a <typeparamref name="TReply"/>, with
/// System.Text.Json doing the bytes, as a <see cref="CourierHandler"/> that a server or a worker maps like any other.
/// </summary>
/// <typeparam name="TRequest">What the handler takes, read from the request's one JSON frame.</typeparam>
/// <typeparam name="TReply">What it answers, written as one JSON frame.</typeparam>
public delegate ValueTask<TReply> CourierHandler<TRequest, TReply>(TRequest request, CancellationToken cancellationToken);

/// <summary>
/// JSON bodies for typed requests and handlers: one UTF-8 JSON frame each way, with the header
/// <c>content-type: application/json</c> on the request and on the reply. A request body that is not valid JSON for
/// the handler's type is answered <c>400</c> naming the type and the parser's complaint, and the handler does not run;
/// so is a request whose <c>content-type</c> names something other than JSON (one without a content type is read as
/// JSON); a reply that is not valid JSON for the caller's type fails the request with a
/// <see cref="CourierSerializationException"/>. The <see cref="JsonTypeInfo{T}"/> and <see cref="JsonSerializerContext"/>
/// overloads use System.Text.Json's source-generated metadata, so they work trimmed and ahead-of-time compiled.
/// </summary>
public static class CourierJson
{
    // RS0026/RS0027 guard shipped overloads against a new optional parameter changing what a call means. These overloads
    // are new together, differ in a required parameter's type, and keep the optional ones last.
#pragma warning disable RS0026, RS0027
    /// <summary>The content type of a JSON body: <c>application/json</c>.</summary>
    public const string ContentType = "application/json";

    /// <summary>A handler that reads a <typeparamref name="TRequest"/> and answers a <typeparamref name="TReply"/> with source-generated metadata.</summary>
    public static CourierHandler Handler<TRequest, TReply>(CourierHandler<TRequest, TReply> handler, JsonTypeInfo<TRequest> requestType, JsonTypeInfo<TReply> replyType)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentNullException.ThrowIfNull(requestType);
        ArgumentNullException.ThrowIfNull(replyType);
        return async (request, cancellationToken) =>
        {
            JsonBody.CheckContentType(request);
            var value = JsonBody.DecodeRequest(request, requestType);
            var reply = await handler(value, cancellationToken).ConfigureAwait(false);
            request.ReplyHeaders.Add(JsonBody.ContentTypeHeader, ContentType);
            return JsonBody.Encode(reply, replyType);
        };
    }

    /// <summary>
    /// A handler that reads a <typeparamref name="TRequest"/> and answers a <typeparamref name="TReply"/>, with the metadata
    /// <paramref name="context"/> generated for both (<c>[JsonSerializable(typeof(…))]</c> on a <see cref="JsonSerializerContext"/>).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="context"/> has no metadata for one of the types.</exception>
    public static CourierHandler Handler<TRequest, TReply>(CourierHandler<TRequest, TReply> handler, JsonSerializerContext context)
        => Handler(handler, JsonBody.TypeInfo<TRequest>(context, nameof(context)), JsonBody.TypeInfo<TReply>(context, nameof(context)));

    /// <summary>
    /// A handler that reads a <typeparamref name="TRequest"/> and answers a <typeparamref name="TReply"/> through reflection,
    /// with <paramref name="options"/> (default <see cref="JsonSerializerOptions.Web"/>: camelCase names). Prefer the
    /// <see cref="JsonSerializerContext"/> overload in trimmed or native AOT applications.
    /// </summary>
    [RequiresUnreferencedCode("JSON serialization through reflection may need types that trimming removes; use a JsonSerializerContext overload.")]
    [RequiresDynamicCode("JSON serialization through reflection may need runtime code generation; use a JsonSerializerContext overload.")]
    public static CourierHandler Handler<TRequest, TReply>(CourierHandler<TRequest, TReply> handler, JsonSerializerOptions? options = null)
        => Handler(handler, Reflected<TRequest>(options), Reflected<TReply>(options));

    [RequiresUnreferencedCode("JSON serialization through reflection may need types that trimming removes.")]
    [RequiresDynamicCode("JSON serialization through reflection may need runtime code generation.")]
    internal static JsonTypeInfo<T> Reflected<T>(JsonSerializerOptions? options)
    {
        var resolved = options ?? JsonSerializerOptions.Web;
        if (!resolved.IsReadOnly)
        {
            // GetTypeInfo needs options that are frozen; give them the reflection resolver unless they already have one.
            resolved.TypeInfoResolver ??= new DefaultJsonTypeInfoResolver();
            resolved.MakeReadOnly();
        }

        return (JsonTypeInfo<T>)resolved.GetTypeInfo(typeof(T));
    }
#pragma warning restore RS0026, RS0027
}
