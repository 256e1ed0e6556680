using System.Text.Json.Nodes;
using Viper.Runtime;
using Viper.Weights;

namespace Viper.Engine.Tests.Support;

/// <summary>
/// A CLIP model folder for aesthetic gradients made from a tiny pipeline's text_encoder: the same text tower (as
/// openai/clip-vit-large-patch14's is SD1.5's encoder) plus a random text_projection of width 16.
/// </summary>
public static class AestheticClipFolder
{
    public const int ProjectionDim = 16;

    public static string Write(string textEncoderFolder, string target, int projectionDim = ProjectionDim)
    {
        Directory.CreateDirectory(target);
        JsonObject config = JsonNode.Parse(File.ReadAllText(Path.Combine(textEncoderFolder, "config.json")))!.AsObject();
        config["projection_dim"] = projectionDim;
        config["architectures"] = new JsonArray("CLIPTextModelWithProjection");
        File.WriteAllText(Path.Combine(target, "config.json"), config.ToJsonString());
        using SafeTensorsFile weights = SafeTensorsFile.Open(Path.Combine(textEncoderFolder, "model.safetensors"));
        int hidden = config["hidden_size"]!.GetValue<int>();
        var random = new Random(7);
        float[] projection = Enumerable.Range(0, projectionDim * hidden).Select(_ => (float)((random.NextDouble() * 2) - 1) * 0.2f).ToArray();
        var tensors = weights.Tensors.Select(e => new TensorData(e.Name, e.DType, e.Shape, weights.Bytes(e).ToArray())).ToList();
        tensors.Add(new TensorData("text_projection.weight", DType.F32, new Shape(projectionDim, hidden), HostTensors.EncodeFloats(projection, DType.F32)));
        SafeTensorsWriter.Write(Path.Combine(target, "model.safetensors"), tensors);
        return target;
    }
}
