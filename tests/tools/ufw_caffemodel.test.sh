# A .caffemodel written through Caffe's own schema (package caffe, the field numbers of BVLC
# caffe.proto, legacy num/channels/height/width blob shapes, double_data, an extra training
# layer) loads as umodel weights: `ufw forward` matches a NumPy computation of the same net.
set -euo pipefail
BIN=${OCTET_BIN:-build/bin}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# The subset of BVLC caffe.proto that a caffemodel of this net uses (same numbers and types).
cat > "$T/caffe.proto" <<'EOF'
syntax = "proto2";
package caffe;
message BlobShape { repeated int64 dim = 1 [packed = true]; }
message BlobProto {
  optional BlobShape shape = 7;
  repeated float data = 5 [packed = true];
  repeated float diff = 6 [packed = true];
  repeated double double_data = 8 [packed = true];
  optional int32 num = 1 [default = 0];
  optional int32 channels = 2 [default = 0];
  optional int32 height = 3 [default = 0];
  optional int32 width = 4 [default = 0];
}
message LayerParameter {
  optional string name = 1;
  optional string type = 2;
  repeated string bottom = 3;
  repeated string top = 4;
  repeated BlobProto blobs = 7;
}
message NetParameter {
  optional string name = 1;
  repeated string input = 3;
  repeated int32 input_dim = 4;
  repeated LayerParameter layer = 100;
}
EOF
protoc --proto_path="$T" --python_out="$T" "$T/caffe.proto"

cat > "$T/deploy.prototxt" <<'EOF'
name: "LeNetish"
input: "data"
input_dim: 2
input_dim: 1
input_dim: 12
input_dim: 12
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
        convolution_param { num_output: 3 kernel_size: 3 } }
layer { name: "relu1" type: "ReLU" bottom: "conv1" top: "conv1" }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1"
        pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "ip1" type: "InnerProduct" bottom: "pool1" top: "ip1" inner_product_param { num_output: 4 } }
EOF

/usr/bin/python3 - "$T" <<'EOF'
import sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import caffe_pb2
d = sys.argv[1]
rng = np.random.default_rng(1)
wc = rng.standard_normal((3, 1, 3, 3)).astype(np.float32)
bc = rng.standard_normal(3).astype(np.float32)
wi = rng.standard_normal((4, 3 * 5 * 5)).astype(np.float32)
bi = rng.standard_normal(4)
x = rng.standard_normal((2, 1, 12, 12)).astype(np.float32)
np.save(d + "/x.npy", x)

net = caffe_pb2.NetParameter(name="LeNetish")
def legacy(blob, shape4, values, double=False):
    blob.num, blob.channels, blob.height, blob.width = shape4
    (blob.double_data if double else blob.data).extend(values.ravel().tolist())
conv = net.layer.add(name="conv1", type="Convolution", bottom=["data"], top=["conv1"])
legacy(conv.blobs.add(), (3, 1, 3, 3), wc)
legacy(conv.blobs.add(), (1, 1, 1, 3), bc)       # old Caffe stored biases as 1x1x1xN
net.layer.add(name="relu1", type="ReLU")
ip = net.layer.add(name="ip1", type="InnerProduct")
legacy(ip.blobs.add(), (1, 1, 4, 75), wi)        # and InnerProduct weights as 1x1xNxK
legacy(ip.blobs.add(), (1, 1, 1, 4), bi, double=True)
loss = net.layer.add(name="loss", type="SoftmaxWithLoss")
loss.blobs.add().data.extend([1.0, 2.0])         # not in the deploy prototxt: ignored
open(d + "/net.caffemodel", "wb").write(net.SerializeToString())

# Reference forward.
n = x.shape[0]
conv_out = np.zeros((n, 3, 10, 10))
for i in range(3):
    for j in range(3):
        conv_out += wc[None, :, 0, i, j, None, None] * x[:, :, i:i + 10, j:j + 10]
conv_out = np.maximum(conv_out + bc[None, :, None, None], 0)
pool = conv_out.reshape(n, 3, 5, 2, 5, 2).max(axis=(3, 5))
ip1 = pool.reshape(n, -1) @ wi.T.astype(np.float64) + bi
np.save(d + "/ref.npy", ip1)
EOF

"$BIN/ufw" forward -model="$T/deploy.prototxt" -weights="$T/net.caffemodel" -input="$T/x.npy" -output="$T/out.npz"
"$BIN/ufw" info -model="$T/deploy.prototxt" -weights="$T/net.caffemodel" | grep -q "^total params: 334 " \
  || { echo "FAIL: info params"; exit 1; }

/usr/bin/python3 - "$T" <<'EOF'
import sys
import numpy as np
d = sys.argv[1]
got = np.load(d + "/out.npz")["ip1"]
ref = np.load(d + "/ref.npy")
assert got.shape == (2, 4), got.shape
err = np.max(np.abs(got - ref))
assert err < 1e-4, (err, got, ref)
print("caffemodel forward matches NumPy, max abs error %.2e" % err)
EOF
